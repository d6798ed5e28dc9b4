"""The transactional outbox: `add` writes an event in the caller's asyncpg transaction.

The events of a transaction are written in one INSERT just before it commits
(`statements.StagedInsert`), so a batch of events costs one round trip, not one each.

Once that transaction has committed, the relays of this process are woken at once
(`connections.after_commit`, no extra round trip). Relays in other processes find the rows
at their next poll. (Not `NOTIFY`: PostgreSQL serialises every committing transaction that
has notified, one global lock held through the commit's WAL flush; its cost is measured in
bench/README.md, "Before / after", pass 1.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
from sqlalchemy import MetaData, Table

from skileez_db.connections import after_commit
from skileez_db.statements import StagedInsert, rows_touched
from skileez_events.envelope import CloudEvent
from skileez_events.tables import outbox_table


class Outbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table: Table = outbox_table(metadata)
        self._rows = StagedInsert(
            self.table, ["event_id", "event_type", "correlation_id", "occurred_at", "body"]
        )
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after each commit that added events; returns the unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add(self, connection: asyncpg.Connection, event: CloudEvent) -> None:
        """Stage `event`; it is published only if the caller's transaction commits.

        `connection` must be inside `connections.transaction` (checked here). The events a
        transaction adds are written together, in order, just before it commits: one INSERT
        for a batch of them, and a failing INSERT rolls the whole transaction back.
        """
        row = (event.id, event.type, event.correlationid, event.time, event.to_json())
        self._rows.add(connection, row)
        after_commit(connection, self.committed)

    def committed(self) -> None:
        """Wake this process's relays: a transaction that added events has committed."""
        for listener in list(self._listeners):
            listener()


async def prune_sent(
    connection: asyncpg.Connection, limit: int, *, outbox: Outbox, older_than: timedelta
) -> int:
    """Delete up to `limit` rows sent more than `older_than` ago; return how many went.

    Only a row whose `sent_at` is committed counts: an unsent row, or one a relay has claimed
    and not yet committed (it is locked, and skipped), is never touched, so nothing waiting to
    be published is lost. Rows another replica's prune holds are skipped too.
    """
    table = outbox.table.name
    status = await connection.execute(
        f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table}"  # noqa: S608
        " WHERE sent_at < now() - $1::interval ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)",
        older_than,
        limit,
    )
    return rows_touched(status)
