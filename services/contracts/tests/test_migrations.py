"""The migration stairway: upgrade to head, downgrade to base, upgrade again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_web.database import downgrade, migrate

TABLES = {
    "proposals",
    "contracts",
    "notifications",
    "waiting_payment_events",
    "contract_sessions",
    "outbox",
    "inbox",
    "sign_in_codes",
    "alembic_version",
}


async def schema(url: str) -> tuple[set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: object) -> tuple[set[str], set[str]]:
                inspector = inspect(sync_conn)
                tables = set(inspector.get_table_names())
                indexes = {
                    index["name"] or ""
                    for table in tables
                    for index in inspector.get_indexes(table)
                }
                return tables, indexes

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_stairway_upgrade_downgrade_upgrade(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await create_database("contracts_stairway")
    await asyncio.to_thread(migrate, "skileez_contracts", url)
    tables, indexes = await schema(url)
    assert tables == TABLES
    assert {
        "ix_contracts_payment_status",
        "ix_contracts_stripe_payment_intent_id",
        "ix_waiting_payment_events_payment_id",
        "ix_contract_sessions_contract_id",
    } <= indexes

    await asyncio.to_thread(downgrade, "skileez_contracts", url, "base")
    assert (await schema(url))[0] == {"alembic_version"}

    await asyncio.to_thread(migrate, "skileez_contracts", url)
    assert await schema(url) == (tables, indexes)
