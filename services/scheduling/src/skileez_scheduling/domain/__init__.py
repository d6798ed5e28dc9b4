"""The scheduling domain: plain Python, no I/O."""
