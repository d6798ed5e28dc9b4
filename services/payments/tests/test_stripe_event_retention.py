"""The retention of stored Stripe events against real PostgreSQL: old bodies are cleared, the rows
and every body still needed stay."""

from __future__ import annotations

import asyncio
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
