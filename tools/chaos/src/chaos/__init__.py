"""`python -m chaos --seed S --payments N`: the whole system under a seeded schedule of
faults, then an invariant checker over every database, the broker and the emulator."""
