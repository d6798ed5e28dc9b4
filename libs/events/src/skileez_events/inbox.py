"""The inbox's retention: its rows are the consumers' memory of what they have handled.

An inbox row turns a second delivery of its event into a no-op, so it may go only once no copy
of that event can arrive any more. Copies come from the broker redelivering a message left
unacked (within minutes), a relay publishing again a row whose commit it did not see (seconds),
and an operator replaying a dead letter, which may be a copy of an event already applied. The
default age (`INBOX_RETENTION_DAYS`, 30 days) outlives the first two by far; dead-letter queues
are bounded by length, not age, so replay (or drop) dead letters within that age: an older
replay meets no inbox row, and only the handlers' own guards stand in the way of a copy.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from skileez_db.statements import rows_touched
from skileez_events.consumer import Inbox


async def prune_handled(
    connection: asyncpg.Connection, limit: int, *, inbox: Inbox, older_than: timedelta
) -> int:
    """Delete up to `limit` inbox rows recorded more than `older_than` ago; return how many.

    Rows another replica's prune holds are skipped, so concurrent prunes never wait on each
    other nor count a row twice.
    """
    table = inbox.table.name
    status = await connection.execute(
        f"DELETE FROM {table} WHERE (consumer, event_id) IN (SELECT consumer, event_id"  # noqa: S608
        f" FROM {table} WHERE received_at < now() - $1::interval LIMIT $2 FOR UPDATE SKIP LOCKED)",
        older_than,
        limit,
    )
    return rows_touched(status)
