"""`GroupCommit` applies each item in its caller's context: what the item causes (an event's
trace context, a log line's correlation id) belongs to the caller's request, not the worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.group_commit import GroupCommit

CALLER: ContextVar[str] = ContextVar("caller", default="worker")


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await create_database("group_commit_context"), pool_size=2)
    yield engine
    await engine.dispose()


async def caller_seen(connection: asyncpg.Connection, item: str) -> str:
    await connection.fetchval("SELECT 1")
    return f"{item} by {CALLER.get()}"


async def submitted_as(group: GroupCommit[str, str], caller: str, item: str) -> str:
    CALLER.set(caller)
    return await group.submit(item)


async def test_each_item_is_applied_in_its_callers_context_alone_or_together(
    engine: AsyncEngine,
) -> None:
    group: GroupCommit[str, str] = GroupCommit(engine, caller_seen, lambda item: (item,), workers=1)
    task = asyncio.create_task(group.run())
    try:
        results = await asyncio.gather(
            *(submitted_as(group, f"request-{n}", f"item-{n}") for n in range(20))
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert results == [f"item-{n} by request-{n}" for n in range(20)]
