"""What the bench watches while the load runs: activations as scheduling sees them, and RSS.

Activation: a contract counts as activated when scheduling's own view of it reads `active`
(committed, so contracts committed its activation and ContractActivated crossed the broker
before). The observer polls scheduling's database for the ids still awaited, one indexed
`= ANY($1)` query at a time with a 2 ms pause; its resolution (query time + pause) and how
many polls it ran are reported with the figures. Each poll asks for the oldest `WINDOW` ids
still awaited (in the order their webhooks were sent), not all of them: asking for thousands
every 2 ms cost PostgreSQL and the bench more CPU than the services it measured. An id that
activates ahead of the window is seen when the window reaches it: the error is only ever
a later time, never an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

POLL_PAUSE = 0.002
WINDOW = 256


@dataclass
class ActivationObserver:
    dsn: str
    seen_at: dict[str, float] = field(default_factory=dict)
    polls: int = 0
    poll_seconds: float = 0.0
    _awaited: dict[str, None] = field(default_factory=dict)
    _connection: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._connection = await asyncpg.connect(self.dsn)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def watch(self, contract_ids: list[str]) -> None:
        """Poll until every id is active in scheduling, or for 120 s plus 20 ms per id."""
        assert self._connection is not None
        timeout = 120 + len(contract_ids) / 50
        self._awaited = dict.fromkeys(i for i in contract_ids if i not in self.seen_at)
        statement = await self._connection.prepare(
            "SELECT id::text FROM contracts WHERE status = 'active' AND id = ANY($1::uuid[])"
        )
        deadline = time.monotonic() + timeout
        while self._awaited and time.monotonic() < deadline:
            started = time.perf_counter()
            rows = await statement.fetch(list(itertools.islice(self._awaited, WINDOW)))
            now = time.time()
            self.poll_seconds += time.perf_counter() - started
            self.polls += 1
            for (contract_id,) in rows:
                self.seen_at[contract_id] = now
                del self._awaited[contract_id]
            await asyncio.sleep(POLL_PAUSE)

    @property
    def mean_poll_ms(self) -> float:
        return 1000 * self.poll_seconds / self.polls if self.polls else 0.0


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS so far) of a process, in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@dataclass
class MemorySampler:
    """Samples each service's RSS every 200 ms; `peak` is reset at the start of each phase."""

    pids: dict[str, int]
    peak: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def now(self) -> dict[str, float]:
        return {name: rss_mib(pid)[0] for name, pid in self.pids.items()}

    def reset_peak(self) -> None:
        self.peak = self.now()

    async def _sample(self) -> None:
        while True:
            for name, value in self.now().items():
                self.peak[name] = max(self.peak.get(name, 0.0), value)
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self.reset_peak()
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
