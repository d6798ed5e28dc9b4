"""The transactional outbox: `add` writes an event in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from skileez_events.envelope import CloudEvent
from skileez_events.tables import outbox_table

NOTIFY_CHANNEL = "skileez_outbox"
"""PostgreSQL delivers NOTIFY on commit only: the relay wakes right after the event is durable."""


class Outbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table: Table = outbox_table(metadata)

    async def add(self, session: AsyncSession | AsyncConnection, event: CloudEvent) -> None:
        """Stage `event`; it is published only if the caller's transaction commits."""
        await session.execute(
            insert(self.table).values(
                event_id=event.id,
                event_type=event.type,
                correlation_id=event.correlationid,
                occurred_at=event.time,
                body=event.to_json(),
            )
        )
        await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
