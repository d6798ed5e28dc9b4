"""The ways in: HTTP routes and event subscriptions, each thin (parse, call a handler, render)."""
