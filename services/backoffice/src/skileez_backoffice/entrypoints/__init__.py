"""The ways in: HTTP routes and console pages, and the event subscriptions, each thin."""
