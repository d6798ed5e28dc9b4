"""The migration stairway: upgrade to head, down to base, and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_web.database import downgrade, migrate

PACKAGE = "skileez_scheduling"


async def tables_of(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_stairway(create_database: Callable[[str], Awaitable[str]]) -> None:
    url = await create_database("scheduling_stairway")
    await asyncio.to_thread(migrate, PACKAGE, url)
    expected = {"contracts", "sessions", "outbox", "inbox", "alembic_version"}
    assert await tables_of(url) == expected
    await asyncio.to_thread(downgrade, PACKAGE, url, "base")
    assert await tables_of(url) == {"alembic_version"}
    await asyncio.to_thread(migrate, PACKAGE, url)
    assert await tables_of(url) == expected
