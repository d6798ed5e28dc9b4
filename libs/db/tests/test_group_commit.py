"""`GroupCommit`: concurrent callers' items applied in shared transactions, on real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection
from skileez_db.group_commit import GroupCommit


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await create_database("group_commit"), pool_size=4)
    async with connection(engine) as setup:
        await setup.execute("CREATE TABLE items (name text PRIMARY KEY)")
        await setup.execute("CREATE TABLE counters (name text PRIMARY KEY, n int NOT NULL)")
        await setup.execute("INSERT INTO counters VALUES ('a', 0), ('b', 0)")
    yield engine
    await engine.dispose()


async def insert(connection: asyncpg.Connection, name: str) -> tuple[str, int]:
    """Insert the item; its transaction id, and how many items that transaction has written."""
    if name.startswith("bad"):
        raise ValueError(f"{name} cannot be applied")
    await connection.execute("INSERT INTO items (name) VALUES ($1)", name)
    txid = await connection.fetchval("SELECT pg_current_xact_id()::text")
    written = "SELECT count(*) FROM items WHERE xmin = xid(pg_current_xact_id())"
    return txid, await connection.fetchval(written)


def by_name(name: str) -> tuple[str, ...]:
    return (name,)


async def committed(engine: AsyncEngine) -> list[str]:
    async with connection(engine) as reader:
        return [row["name"] for row in await reader.fetch("SELECT name FROM items ORDER BY name")]


@pytest.fixture
async def running(engine: AsyncEngine) -> AsyncIterator[GroupCommit[str, tuple[str, int]]]:
    group = GroupCommit(engine, insert, by_name, workers=4, batch_size=32)
    task = asyncio.create_task(group.run())
    yield group
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_items_submitted_together_share_transactions_and_see_each_other(
    engine: AsyncEngine, running: GroupCommit[str, tuple[str, int]]
) -> None:
    names = [f"item-{n:03}" for n in range(100)]
    results = await asyncio.gather(*(running.submit(name) for name in names))

    assert await committed(engine) == names
    transactions = {txid for txid, _ in results}
    assert len(transactions) < len(names)  # 100 items in 4 batches of at most 32
    for txid in transactions:
        seen = [visible for other, visible in results if other == txid]
        # Within a transaction each item sees those applied before it.
        assert seen == list(range(1, len(seen) + 1))


async def test_a_result_comes_only_after_its_commit(
    engine: AsyncEngine, running: GroupCommit[str, tuple[str, int]]
) -> None:
    async def submit_then_read(name: str) -> bool:
        await running.submit(name)
        return name in await committed(engine)

    assert all(await asyncio.gather(*(submit_then_read(f"item-{n}") for n in range(40))))


async def test_a_failing_item_gets_its_error_and_the_rest_commit_once(
    engine: AsyncEngine, running: GroupCommit[str, tuple[str, int]]
) -> None:
    names = [f"item-{n:02}" for n in range(20)]
    names.insert(7, "bad-one")
    outcomes = await asyncio.gather(
        *(running.submit(name) for name in names), return_exceptions=True
    )

    failed = [name for name, out in zip(names, outcomes, strict=True) if isinstance(out, Exception)]
    assert failed == ["bad-one"]
    assert isinstance(outcomes[7], ValueError)
    # Its batch was rolled back and each item applied again alone: each row is there once.
    assert await committed(engine) == sorted(name for name in names if name != "bad-one")


async def test_a_caller_that_gave_up_before_its_turn_is_not_applied(engine: AsyncEngine) -> None:
    group = GroupCommit(engine, insert, by_name)
    abandoned = asyncio.create_task(group.submit("abandoned"))
    await asyncio.sleep(0)  # one turn of the loop, not a wait: its submit is now queued
    abandoned.cancel()
    runner = asyncio.create_task(group.run())
    try:
        await group.submit("kept")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    assert await committed(engine) == ["kept"]


async def test_stopping_cancels_the_callers_still_waiting(engine: AsyncEngine) -> None:
    group = GroupCommit(engine, insert, by_name)
    waiting = asyncio.create_task(group.submit("never"))
    runner = asyncio.create_task(group.run())
    await asyncio.sleep(0)  # one turn of the loop, not a wait: submit and run have started
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)

    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await committed(engine) == []


async def test_two_batches_lock_shared_rows_in_one_order_and_never_deadlock(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async def count(connection: asyncpg.Connection, name: str) -> None:
        await connection.execute("UPDATE counters SET n = n + 1 WHERE name = $1", name)
        # Not a wait: holding the lock a while gives the other batch time to take its first.
        await asyncio.sleep(0.05)

    group = GroupCommit(engine, count, by_name, workers=2, batch_size=2)
    runner = asyncio.create_task(group.run())
    try:
        # Two batches, [a, b] and [b, a]: in arrival order each would hold what the other wants.
        await asyncio.gather(*(group.submit(name) for name in ["a", "b", "b", "a"]))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    assert not [record for record in caplog.records if "rolled back" in record.getMessage()]
    async with connection(engine) as reader:
        assert await reader.fetch("SELECT name, n FROM counters ORDER BY name") == [
            ("a", 2),
            ("b", 2),
        ]


async def test_lock_ahead_runs_first_in_each_transaction_with_the_items_applied_in_it(
    engine: AsyncEngine,
) -> None:
    ahead: dict[str, list[str]] = {}

    async def lock_ahead(connection: asyncpg.Connection, names: list[str]) -> None:
        assert await connection.fetchval(written_by_us) == 0  # before any item is applied
        ahead[await connection.fetchval("SELECT pg_current_xact_id()::text")] = names

    written_by_us = "SELECT count(*) FROM items WHERE xmin = xid(pg_current_xact_id())"
    group = GroupCommit(engine, insert, by_name, lock_ahead=lock_ahead)
    runner = asyncio.create_task(group.run())
    try:
        names = [f"item-{n:02}" for n in range(40)]
        names.insert(13, "bad-one")
        outcomes = await asyncio.gather(
            *(group.submit(name) for name in names), return_exceptions=True
        )
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    applied: dict[str, list[str]] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        if not isinstance(outcome, Exception):
            applied.setdefault(outcome[0], []).append(name)
    # Every committed transaction locked ahead exactly the items it then applied, in order.
    assert {txid: ahead[txid] for txid in applied} == applied
    # The group holding the bad item locked ahead for all of it, then each went alone.
    assert any("bad-one" in names and len(names) > 1 for names in ahead.values())
    assert ["bad-one"] in ahead.values()
