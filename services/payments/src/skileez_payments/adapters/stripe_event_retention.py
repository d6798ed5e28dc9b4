"""Retention of the Stripe events payments stored: their raw bodies are cleared once old.

The row stays (its id keeps a redelivered event from being applied twice, its type and outcome
stay for audit and for `GET /payments/unmatched-events`); only the body, the bulk of it, goes.
The body of an event still `unmatched` is kept whatever its age: it is applied from that body
when its payment is paid. By default (`STRIPE_EVENT_BODY_RETENTION_DAYS`, 90 days) a body
outlives Stripe's own copy (the Events API keeps 30 days) and its webhook retries (3 days).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from skileez_db.statements import rows_touched

_CLEAR_OLD_BODIES = (
    "UPDATE stripe_events SET payload = ''::bytea WHERE id IN (SELECT id FROM stripe_events"
    " WHERE received_at < now() - $1::interval AND outcome <> 'unmatched'"
    " AND octet_length(payload) > 0 LIMIT $2 FOR UPDATE SKIP LOCKED)"
)


async def clear_old_bodies(
    connection: asyncpg.Connection, limit: int, *, older_than: timedelta
) -> int:
    """Clear the bodies of up to `limit` events received more than `older_than` ago; return
    how many. A row another transaction holds (another replica's prune, a payment applying
    the events that waited for it) is skipped until a later pass."""
    status = await connection.execute(_CLEAR_OLD_BODIES, older_than, limit)
    return rows_touched(status)
