"""Scheduling's retention job, against real PostgreSQL: run by the service on its interval, and
once by hand with `python -m skileez_scheduling prune`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_db.connections import connection
from skileez_events import Names
from skileez_events.testing import wait_until
from skileez_scheduling.entrypoints.app import create_app
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.database import migrate

from .conftest import SECRET

pytestmark = pytest.mark.timeout(90)


async def migrated(create_database: Callable[[str], Awaitable[str]], label: str) -> str:
    url = await create_database(label)
    await asyncio.to_thread(migrate, "skileez_scheduling", url)
    return url


async def add_inbox_rows(url: str) -> None:
    """One inbox row from 31 days ago (`old`) and one from 29 days ago (`young`)."""
    engine = create_async_engine(url)
    try:
        async with connection(engine) as conn:
            await conn.execute(
                "INSERT INTO inbox (consumer, event_id, event_type, received_at) VALUES"
                " ('scheduling', 'old', 't', now() - interval '31 days'),"
                " ('scheduling', 'young', 't', now() - interval '29 days')"
            )
    finally:
        await engine.dispose()


async def add_outbox_rows(url: str) -> None:
    """An event sent 8 days ago (`sent`), one sent 6 days ago (`recent`) and one unsent."""
    engine = create_async_engine(url)
    try:
        async with connection(engine) as conn:
            await conn.execute(
                "INSERT INTO outbox (event_id, event_type, correlation_id, occurred_at, body,"
                " sent_at) VALUES"
                " ('sent', 't', 'c', now(), '', now() - interval '8 days'),"
                " ('recent', 't', 'c', now(), '', now() - interval '6 days'),"
                " ('unsent', 't', 'c', now(), '', NULL)"
            )
    finally:
        await engine.dispose()


async def outbox_ids(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with connection(engine) as conn:
            return {row["event_id"] for row in await conn.fetch("SELECT event_id FROM outbox")}
    finally:
        await engine.dispose()


async def inbox_ids(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with connection(engine) as conn:
            return {row["event_id"] for row in await conn.fetch("SELECT event_id FROM inbox")}
    finally:
        await engine.dispose()


async def test_the_service_prunes_its_inbox_on_an_interval(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> None:
    url = await migrated(create_database, "scheduling_retention")
    settings = SchedulingSettings(
        database_url=url,
        amqp_url=amqp_url,
        events_namespace=events_names.namespace,
        jwt_secret=SECRET,
        retention_interval_seconds=0.2,
    )
    async with TestServer(create_app(settings)):
        await add_inbox_rows(url)  # while the job runs: one of its passes prunes them

        async def only_the_young_row_is_left() -> bool:
            return await inbox_ids(url) == {"young"}

        await wait_until(only_the_young_row_is_left)


async def test_prune_by_hand_says_how_many_rows_went(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await migrated(create_database, "scheduling_prune_cli")
    await add_inbox_rows(url)
    await add_outbox_rows(url)
    # The database URL alone: `prune` needs no JWT or broker secret (a CronJob holds none).
    secrets = {"JWT_SECRET", "AMQP_URL"}
    env = {**{k: v for k, v in os.environ.items() if k not in secrets}, "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "skileez_scheduling",
        "prune",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert output.decode().splitlines() == ["outbox: 1 pruned", "inbox: 1 pruned"]
    assert await inbox_ids(url) == {"young"}
    assert await outbox_ids(url) == {"recent", "unsent"}
