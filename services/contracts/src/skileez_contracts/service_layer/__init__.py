"""Use cases: the handlers that routes and event subscriptions call; the unit of work."""
