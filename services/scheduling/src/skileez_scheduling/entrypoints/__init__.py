"""HTTP routes, the HTML page and the event subscriptions, each thin."""
