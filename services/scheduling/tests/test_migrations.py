"""The migration stairway: upgrade to head, down to base, and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_scheduling.adapters.tables import contracts
from skileez_web.database import downgrade, migrate

PACKAGE = "skileez_scheduling"
NAMES = {"student_name", "coach_name"}
"""The columns 0004 adds."""
TRACE = "activation_traceparent"
"""The column 0005 adds."""


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
    expected = {"contracts", "sessions", "outbox", "inbox", "sign_in_codes", "alembic_version"}
    assert await tables_of(url) == expected
    await asyncio.to_thread(downgrade, PACKAGE, url, "base")
    assert await tables_of(url) == {"alembic_version"}
    await asyncio.to_thread(migrate, PACKAGE, url)
    assert await tables_of(url) == expected


async def contract_columns(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda sync: inspect(sync).get_columns("contracts"))
            return {column["name"] for column in columns}
    finally:
        await engine.dispose()


async def test_0002_adds_the_suspension_to_contracts_already_seen(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    """Each step up and down again; a contract seen before 0002 is not suspended after it."""
    url = await create_database("scheduling_0002")
    await asyncio.to_thread(migrate, PACKAGE, url, "0001")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO contracts (id, status, student_id, coach_id, session_count)"
                    " VALUES (gen_random_uuid(), 'active', 's', 'c', 2)"
                )
            )
        await asyncio.to_thread(migrate, PACKAGE, url, "0002")
        assert await contract_columns(url) == {column.name for column in contracts.c} - {
            *NAMES,
            TRACE,
        }
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT status, suspended_at, reinstated_at FROM contracts")
                )
            ).one()
        assert tuple(row) == ("active", None, None)
        await asyncio.to_thread(downgrade, PACKAGE, url, "0001")
        assert "suspended_at" not in await contract_columns(url)
        await asyncio.to_thread(migrate, PACKAGE, url, "0002")
        assert "suspended_at" in await contract_columns(url)
    finally:
        await engine.dispose()


async def test_0004_adds_the_party_names_unknown_for_contracts_already_seen(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await create_database("scheduling_0004")
    await asyncio.to_thread(migrate, PACKAGE, url, "0003")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO contracts (id, status, student_id, coach_id, session_count)"
                    " VALUES (gen_random_uuid(), 'active', 's', 'c', 2)"
                )
            )
        await asyncio.to_thread(migrate, PACKAGE, url, "0004")
        assert await contract_columns(url) == {column.name for column in contracts.c} - {TRACE}
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT student_name, coach_name FROM contracts"))).one()
        assert tuple(row) == (None, None)
        await asyncio.to_thread(downgrade, PACKAGE, url, "0003")
        assert not NAMES & await contract_columns(url)
    finally:
        await engine.dispose()


async def test_0005_adds_the_activation_trace_unknown_for_contracts_already_seen(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await create_database("scheduling_0005")
    await asyncio.to_thread(migrate, PACKAGE, url, "0004")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO contracts (id, status, student_id, coach_id, session_count)"
                    " VALUES (gen_random_uuid(), 'active', 's', 'c', 2)"
                )
            )
        await asyncio.to_thread(migrate, PACKAGE, url, "0005")
        assert await contract_columns(url) == {column.name for column in contracts.c}
        async with engine.connect() as conn:
            query = text("SELECT status, activation_traceparent FROM contracts")
            row = (await conn.execute(query)).one()
        assert tuple(row) == ("active", None)
        await asyncio.to_thread(downgrade, PACKAGE, url, "0004")
        assert TRACE not in await contract_columns(url)
    finally:
        await engine.dispose()
