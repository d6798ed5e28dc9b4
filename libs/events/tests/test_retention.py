"""Pruning the outbox and the inbox against real PostgreSQL: only what can no longer matter goes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import MetaData

from skileez_db.connections import connection, transaction
from skileez_events import Inbox, Outbox
from skileez_events.inbox import prune_handled
from skileez_events.outbox import prune_sent

outbox = Outbox(MetaData())
inbox = Inbox(MetaData())
"""The tables of the `service` fixture, by name."""
WEEK = timedelta(days=7)


async def add_outbox_row(service: Any, *, age: timedelta, sent_age: timedelta | None) -> str:
    """An outbox row created `age` ago, sent `sent_age` ago (None: still unsent)."""
    event_id = str(uuid.uuid4())
    async with connection(service.engine) as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, correlation_id, occurred_at, body,"
            " created_at, sent_at) VALUES ($1, 'skileez.contracts.ContractCreated.v1', 'c',"
            " now() - $2::interval, '{}', now() - $2::interval, now() - $3::interval)",
            event_id,
            age,
            sent_age,
        )
    return event_id


async def add_inbox_row(service: Any, *, age: timedelta) -> str:
    event_id = str(uuid.uuid4())
    async with connection(service.engine) as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, event_type, received_at) VALUES"
            " ('payments', $1, 'skileez.contracts.ContractCreated.v1', now() - $2::interval)",
            event_id,
            age,
        )
    return event_id


async def ids_in(service: Any, table: str) -> set[str]:
    async with connection(service.engine) as conn:
        return {row["event_id"] for row in await conn.fetch(f"SELECT event_id FROM {table}")}  # noqa: S608


async def test_only_rows_sent_longer_ago_than_the_age_are_pruned(service: Any) -> None:
    old_sent = await add_outbox_row(service, age=timedelta(days=9), sent_age=timedelta(days=8))
    young_sent = await add_outbox_row(service, age=timedelta(days=9), sent_age=timedelta(days=6))
    old_unsent = await add_outbox_row(service, age=timedelta(days=30), sent_age=None)
    async with transaction(service.engine) as conn:
        assert await prune_sent(conn, 100, outbox=outbox, older_than=WEEK) == 1
    assert await ids_in(service, "outbox") == {young_sent, old_unsent}
    assert old_sent not in await ids_in(service, "outbox")


async def test_a_batch_prunes_at_most_its_limit_oldest_first(service: Any) -> None:
    rows = [
        await add_outbox_row(service, age=timedelta(days=20), sent_age=timedelta(days=20 - i))
        for i in range(5)
    ]
    async with transaction(service.engine) as conn:
        assert await prune_sent(conn, 2, outbox=outbox, older_than=WEEK) == 2
    assert await ids_in(service, "outbox") == set(rows[2:])


async def test_a_row_another_transaction_holds_is_skipped_without_waiting(service: Any) -> None:
    """A relay's claim or another replica's prune holds its rows locked: a prune passes them
    by (SKIP LOCKED) instead of waiting for them or deleting them from under it."""
    held = await add_outbox_row(service, age=timedelta(days=9), sent_age=timedelta(days=8))
    free = await add_outbox_row(service, age=timedelta(days=9), sent_age=timedelta(days=8))
    async with transaction(service.engine) as holder:
        await holder.execute("SELECT 1 FROM outbox WHERE event_id = $1 FOR UPDATE", held)
        async with transaction(service.engine) as conn:
            await conn.execute("SET LOCAL lock_timeout = '2s'")
            assert await prune_sent(conn, 100, outbox=outbox, older_than=WEEK) == 1
    assert await ids_in(service, "outbox") == {held}
    assert free not in await ids_in(service, "outbox")


async def test_only_inbox_rows_older_than_the_age_are_pruned(service: Any) -> None:
    month = timedelta(days=30)
    old = [await add_inbox_row(service, age=timedelta(days=31)) for _ in range(3)]
    young = await add_inbox_row(service, age=timedelta(days=29))
    async with transaction(service.engine) as conn:
        assert await prune_handled(conn, 2, inbox=inbox, older_than=month) == 2
    async with transaction(service.engine) as conn:
        assert await prune_handled(conn, 2, inbox=inbox, older_than=month) == 1
    assert await ids_in(service, "inbox") == {young}
    assert not set(old) & await ids_in(service, "inbox")
