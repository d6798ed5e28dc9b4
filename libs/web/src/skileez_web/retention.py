"""The retention job: prunes rows nobody needs any more (sent outbox rows, old inbox rows, a
service's own old records) in small batches, on an interval beside the relay, or once by hand
(`python -m skileez_<service> prune`).

Every replica runs it: each batch takes its rows `FOR UPDATE SKIP LOCKED`, so replicas
pruning at once share the rows between them, never wait on each other and never count a row
twice; each batch is a short transaction of its own, so locks are held briefly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import asyncpg
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_events import Inbox, Outbox
from skileez_events.inbox import prune_handled
from skileez_events.outbox import prune_sent
from skileez_web.settings import RetentionSettings

log = logging.getLogger(__name__)

PRUNED = Counter(
    "skileez_retention_pruned_total",
    "Rows the retention job pruned (deleted, or their stored body cleared), by table",
    ["table"],
)

Prune = Callable[[asyncpg.Connection, int], Awaitable[int]]
"""One batch: prune at most that many rows in the given transaction; return how many."""


@dataclass(frozen=True)
class Pruning:
    """What to prune in `table`, one batch at a time."""

    table: str
    prune: Prune


def messaging_pruning(
    settings: RetentionSettings, *, inbox: Inbox, outbox: Outbox | None = None
) -> list[Pruning]:
    """The outbox's sent rows and the inbox's old rows, at the ages the settings give."""
    prunings = []
    if outbox is not None:
        sent = timedelta(days=settings.outbox_retention_days)
        prunings.append(
            Pruning(outbox.table.name, partial(prune_sent, outbox=outbox, older_than=sent))
        )
    handled = timedelta(days=settings.inbox_retention_days)
    prunings.append(
        Pruning(inbox.table.name, partial(prune_handled, inbox=inbox, older_than=handled))
    )
    return prunings


async def prune(
    engine: AsyncEngine, prunings: Sequence[Pruning], *, batch_size: int
) -> dict[str, int]:
    """Prune every table, batch after batch, until a batch comes back short; return how many
    rows of each table this call pruned (each batch counted in the metric once committed)."""
    pruned = {}
    for pruning in prunings:
        pruned[pruning.table] = 0
        while True:
            async with transaction(engine) as connection:
                count = await pruning.prune(connection, batch_size)
            PRUNED.labels(pruning.table).inc(count)
            pruned[pruning.table] += count
            if count < batch_size:
                break
    return pruned


async def prune_every(
    engine: AsyncEngine, prunings: Sequence[Pruning], *, batch_size: int, interval: float
) -> None:
    """Prune now and then every `interval` seconds until cancelled; a failed pass (the
    database away) is logged and the next one tries again."""
    while True:
        try:
            pruned = await prune(engine, prunings, batch_size=batch_size)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("retention pass failed (%r); trying again in %.0f s", error, interval)
        else:
            if any(pruned.values()):
                log.info("retention pruned %s", pruned)
        await asyncio.sleep(interval)
