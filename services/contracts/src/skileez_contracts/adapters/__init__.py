"""Persistence: the tables and the repositories over them."""
