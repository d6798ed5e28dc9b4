"""Readiness checks run at most once a second, whatever the rate of `/health/ready` probes.

The database check opens a connection of its own (`skileez_web.database`), and the route
needs no token: answered afresh per call, a flood of probes would exhaust the server's
connections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

ReadinessCheck = Callable[[], Awaitable[bool]]

ANSWER_SECONDS = 1.0
"""How long an answer is given again: short, so a database that goes away reads as not
ready within about that long."""


class ReadinessChecks:
    """Named checks behind a single flight: callers while a run is in progress await that run;
    for `answer_seconds` after it ends, its answer (a failure too) is given again."""

    def __init__(
        self, checks: Mapping[str, ReadinessCheck], answer_seconds: float = ANSWER_SECONDS
    ) -> None:
        self._checks = dict(checks)
        self._answer_seconds = answer_seconds
        self._run: asyncio.Task[dict[str, bool]] | None = None
        self._fresh_until = 0.0

    async def results(self) -> dict[str, bool]:
        """Each check's outcome (a check that raises is False)."""
        run = self._run
        if run is None or (run.done() and time.monotonic() >= self._fresh_until):
            run = self._run = asyncio.create_task(self._check_all(), name="readiness checks")
        # Shielded: a caller that goes away does not cancel the run the others await.
        return dict(await asyncio.shield(run))

    async def _check_all(self) -> dict[str, bool]:
        results = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(await check())
            except Exception:
                results[name] = False
        self._fresh_until = time.monotonic() + self._answer_seconds
        return results
