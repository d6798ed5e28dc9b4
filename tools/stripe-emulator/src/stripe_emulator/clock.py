"""The emulator's notion of "now": wall time plus an offset tests can advance."""

from __future__ import annotations

import time


class Clock:
    """Unix seconds as the emulator sees them; `advance` moves every deadline closer."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()

    def reset(self) -> None:
        self.offset = 0
