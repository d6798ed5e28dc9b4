"""The read model in plain Python: what the events say of contracts, payments and sessions."""
