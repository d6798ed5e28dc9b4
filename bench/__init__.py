"""The Skileez benchmark: the whole system as real processes, measured against bare ceilings.

Run it with `uv run python -m bench` (see bench/README.md).
"""
