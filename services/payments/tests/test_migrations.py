"""The migration stairway: upgrade to head, down to base, and up again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_web.database import downgrade, migrate

TABLES = {
    "contracts",
    "payments",
    "payment_reviews",
    "refund_requests",
    "contract_cancellations",
    "stripe_events",
    "reconciliation_cursor",
    "outbox",
    "inbox",
    "sign_in_codes",
}


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


async def test_unmatched_refunds_recorded_before_0002_get_the_intent_they_wait_for(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await create_database("payments_0002")
    await asyncio.to_thread(migrate, "skileez_payments", url, "0001")
    bodies = {
        "evt_plain": {"data": {"object": {"object": "charge", "payment_intent": "pi_plain"}}},
        "evt_expanded": {
            "data": {"object": {"object": "dispute", "payment_intent": {"id": "pi_x"}}}
        },
    }
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for event_id, body in bodies.items():
                await connection.execute(
                    text(
                        "INSERT INTO stripe_events (id, type, livemode, created, payload, source,"
                        " outcome) VALUES (:id, :type, false, now(), :payload, 'webhook',"
                        " 'unmatched')"
                    ),
                    {
                        "id": event_id,
                        "type": "charge.refunded"
                        if event_id == "evt_plain"
                        else "charge.dispute.created",
                        "payload": json.dumps(body).encode(),
                    },
                )
        await asyncio.to_thread(migrate, "skileez_payments", url)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, payment_intent FROM stripe_events"))
            assert {row.id: row.payment_intent for row in rows} == {
                "evt_plain": "pi_plain",
                "evt_expanded": "pi_x",
            }
    finally:
        await engine.dispose()
