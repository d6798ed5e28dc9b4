"""Use cases: booking and cancelling sessions, and keeping the view of contracts current."""
