"""The handlers: the projection of each event, the rebuild from the archive, operator actions."""
