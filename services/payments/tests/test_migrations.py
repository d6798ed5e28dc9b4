"""The migration stairway: upgrade to head, down to base, and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_web.database import downgrade, migrate

TABLES = {"contracts", "payments", "stripe_events", "reconciliation_cursor", "outbox", "inbox"}


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {row[0] for row in rows} - {"alembic_version"}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(create_database: Callable[[str], Awaitable[str]]) -> None:
    url = await create_database("payments_stairway")
    await asyncio.to_thread(migrate, "skileez_payments", url)
    assert await tables(url) == TABLES
    await asyncio.to_thread(downgrade, "skileez_payments", url, "base")
    assert await tables(url) == set()
    await asyncio.to_thread(migrate, "skileez_payments", url)
    assert await tables(url) == TABLES
