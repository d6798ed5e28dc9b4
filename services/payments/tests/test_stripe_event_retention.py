"""The retention of stored Stripe events against real PostgreSQL: old bodies are cleared, the rows
and every body still needed stay."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection
from skileez_payments.entrypoints.app import retention
from skileez_payments.settings import PaymentsSettings
from skileez_web.database import migrate
from skileez_web.retention import prune

BODY = b'{"id": "evt", "object": "event"}'


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    url = await create_database("payments_retention")
    await asyncio.to_thread(migrate, "skileez_payments", url)
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


def settings() -> PaymentsSettings:
    return PaymentsSettings(
        database_url="postgresql+asyncpg://unused/unused",
        jwt_secret="payments-retention-test-secret-long-enough",
        stripe_secret_key="sk_test_retention",
        stripe_webhook_secret="whsec_retention",
    )


async def store_event(engine: AsyncEngine, event_id: str, *, age: timedelta, outcome: str) -> None:
    async with connection(engine) as conn:
        await conn.execute(
            "INSERT INTO stripe_events (id, type, livemode, created, payload, source, outcome,"
            " received_at) VALUES ($1, 'charge.refunded', false, now() - $2::interval, $3,"
            " 'webhook', $4, now() - $2::interval)",
            event_id,
            age,
            BODY,
            outcome,
        )


async def bodies(engine: AsyncEngine) -> dict[str, bytes]:
    async with connection(engine) as conn:
        rows = await conn.fetch("SELECT id, payload FROM stripe_events")
    return {row["id"]: row["payload"] for row in rows}


def pruned_bodies() -> float:
    counted = REGISTRY.get_sample_value(
        "skileez_retention_pruned_total", {"table": "stripe_events"}
    )
    return counted or 0.0


async def test_old_bodies_are_cleared_but_not_the_rows_nor_those_still_waiting(
    engine: AsyncEngine,
) -> None:
    await store_event(engine, "evt_old", age=timedelta(days=91), outcome="applied")
    await store_event(
        engine, "evt_old_mismatch", age=timedelta(days=91), outcome="livemode_mismatch"
    )
    await store_event(engine, "evt_old_waiting", age=timedelta(days=200), outcome="unmatched")
    await store_event(engine, "evt_young", age=timedelta(days=89), outcome="applied")
    before = pruned_bodies()

    pruned = await prune(engine, retention(settings()), batch_size=1)

    assert pruned["stripe_events"] == 2
    assert pruned_bodies() - before == 2
    assert await bodies(engine) == {
        "evt_old": b"",
        "evt_old_mismatch": b"",
        "evt_old_waiting": BODY,
        "evt_young": BODY,
    }
    # Cleared bodies are not counted again.
    assert (await prune(engine, retention(settings()), batch_size=1))["stripe_events"] == 0


async def test_prune_by_hand_needs_the_database_url_alone(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    """`python -m skileez_payments prune` given DATABASE_URL and no JWT, broker or Stripe
    secret (what a retention CronJob would hold): it prunes and says how many rows went."""
    url = await create_database("payments_prune_cli")
    await asyncio.to_thread(migrate, "skileez_payments", url)
    engine = create_async_engine(url)
    try:
        await store_event(engine, "evt_old", age=timedelta(days=91), outcome="applied")
        secrets = {"JWT_SECRET", "AMQP_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"}
        env = {k: v for k, v in os.environ.items() if k not in secrets}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "skileez_payments",
            "prune",
            env={**env, "DATABASE_URL": url},
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0
        assert "stripe_events: 1 pruned" in output.decode().splitlines()
        assert await bodies(engine) == {"evt_old": b""}
    finally:
        await engine.dispose()
