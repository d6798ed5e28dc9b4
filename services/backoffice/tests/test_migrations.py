"""The migration stairway, and the archive and audit log kept append-only by the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_backoffice.adapters.tables import metadata
from skileez_web.database import downgrade, migrate

PACKAGE = "skileez_backoffice"


async def tables_of(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_stairway(create_database: Callable[[str], Awaitable[str]]) -> None:
    url = await create_database("backoffice_stairway")
    await asyncio.to_thread(migrate, PACKAGE, url)
    expected = {*metadata.tables, "alembic_version"}
    assert await tables_of(url) == expected
    await asyncio.to_thread(downgrade, PACKAGE, url, "base")
    assert await tables_of(url) == {"alembic_version"}
    await asyncio.to_thread(migrate, PACKAGE, url)
    assert await tables_of(url) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET note = 'nothing happened'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE event_archive SET event_type = 'x'",
        "DELETE FROM event_archive",
        "TRUNCATE event_archive",
    ],
)
async def test_the_archive_and_the_audit_log_refuse_rewriting(
    backoffice_database: str, statement: str
) -> None:
    engine = create_async_engine(backoffice_database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO audit_log (actor_id, action, subject, note, outcome, succeeded)"
                    " VALUES ('admin-1', 'refund', 'p', 'asked', '202', true)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO event_archive (event_id, event_type, occurred_at, envelope)"
                    " VALUES ('e1', 't', now(), '{}')"
                )
            )
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        async with engine.connect() as conn:
            kept = await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM event_archive)"
                )
            )
            assert tuple(kept.one()) == (1, 1)
    finally:
        await engine.dispose()
