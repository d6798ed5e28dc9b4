"""The retention job against real PostgreSQL: batches until done, replicas side by side, the metric,
and the loop every replica runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection, transaction
from skileez_events import Inbox, Outbox
from skileez_events.testing import wait_until
from skileez_web.retention import PRUNED, Pruning, messaging_pruning, prune, prune_every
from skileez_web.settings import ServiceSettings

metadata = MetaData()
outbox = Outbox(metadata)
inbox = Inbox(metadata)


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await create_database("retention"), pool_size=6)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def prunings() -> list[Pruning]:
    """The messaging tables at their default ages (7 days sent, 30 days handled)."""
    settings = ServiceSettings(
        database_url="postgresql+asyncpg://unused/unused",
        port=8000,
        jwt_secret="retention-test-secret-long-enough-for-any-check",
    )
    return messaging_pruning(settings, inbox=inbox, outbox=outbox)


async def add_rows(engine: AsyncEngine, *, old: int, young: int, unsent: int) -> None:
    """`old` outbox rows sent 8 days ago and inbox rows from 31 days ago, `young` of each from a
    day ago, and `unsent` outbox rows created 60 days ago and never sent."""
    async with connection(engine) as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, correlation_id, occurred_at, body,"
            " created_at, sent_at) SELECT 'o-' || n, 't', 'c', now(), '{}', now() - interval"
            " '60 days', CASE WHEN n <= $1::int THEN now() - interval '8 days'"
            " WHEN n <= $1::int + $2::int THEN now() - interval '1 day' END"
            " FROM generate_series(1, $1::int + $2::int + $3::int) AS n",
            old,
            young,
            unsent,
        )
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, event_type, received_at) SELECT 'c', 'i-' || n,"
            " 't', now() - CASE WHEN n <= $1::int THEN interval '31 days' ELSE interval '1 day'"
            " END FROM generate_series(1, $1::int + $2::int) AS n",
            old,
            young,
        )


async def remaining(engine: AsyncEngine) -> tuple[int, int, int]:
    """Outbox rows sent, outbox rows unsent, inbox rows."""
    async with connection(engine) as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL) AS sent,"
            " (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS unsent,"
            " (SELECT count(*) FROM inbox) AS handled"
        )
    return row["sent"], row["unsent"], row["handled"]


def pruned_so_far() -> dict[str, float]:
    return {
        sample.labels["table"]: sample.value
        for metric in PRUNED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


async def test_two_replicas_pruning_at_once_prune_every_row_and_count_each_once(
    engine: AsyncEngine, prunings: list[Pruning]
) -> None:
    await add_rows(engine, old=1_000, young=40, unsent=30)
    before = pruned_so_far()

    first, second = await asyncio.gather(
        prune(engine, prunings, batch_size=50), prune(engine, prunings, batch_size=50)
    )

    assert first["outbox"] + second["outbox"] == 1_000
    assert first["inbox"] + second["inbox"] == 1_000
    assert await remaining(engine) == (40, 30, 40)
    after = pruned_so_far()
    assert after["outbox"] - before.get("outbox", 0) == 1_000
    assert after["inbox"] - before.get("inbox", 0) == 1_000
    # Nothing more is old enough: another pass prunes nothing.
    assert await prune(engine, prunings, batch_size=50) == {"outbox": 0, "inbox": 0}


async def test_a_replica_skips_the_rows_another_holds_instead_of_waiting_for_them(
    engine: AsyncEngine, prunings: list[Pruning]
) -> None:
    """SKIP LOCKED: while one replica's batch holds its rows (its transaction still open),
    another prunes all the rest at once; with a plain FOR UPDATE it would wait (timeout)."""
    await add_rows(engine, old=100, young=4, unsent=3)
    for pruning in prunings:
        async with transaction(engine) as holding:
            assert await pruning.prune(holding, 30) == 30
            other = await asyncio.wait_for(prune(engine, [pruning], batch_size=50), timeout=5)
            assert other == {pruning.table: 70}
    assert await remaining(engine) == (4, 3, 4)


async def test_every_replica_prunes_on_an_interval(
    engine: AsyncEngine, prunings: list[Pruning]
) -> None:
    job = asyncio.create_task(prune_every(engine, prunings, batch_size=7, interval=0.1))
    try:
        await add_rows(engine, old=20, young=3, unsent=2)

        async def pruned() -> bool:
            return await remaining(engine) == (3, 2, 3)

        await wait_until(pruned)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
