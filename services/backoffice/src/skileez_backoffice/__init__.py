"""Backoffice: the operators' console, the audit log of their actions, the reporting read model."""
