"""The contracts domain in plain Python: proposals, contracts, their rules and events."""
