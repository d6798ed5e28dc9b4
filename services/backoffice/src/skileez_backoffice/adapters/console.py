"""What the console's pages read: the read model and the audit log, filtered and paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from skileez_web.pagination import Position

PAYMENT_ROW = """
    SELECT payment.*, contract.title, contract.coach_id, contract.coach_name,
           contract.student_id, contract.student_name,
           contract.amount AS contract_amount, contract.currency AS contract_currency
      FROM payments AS payment LEFT JOIN contracts AS contract ON contract.id = payment.contract_id
"""


@dataclass(frozen=True)
class PaymentFilter:
    """The payments list's filters; None is any. `search` is a payment, contract, Checkout
    Session or PaymentIntent id."""

    status: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    coach: str | None = None
    student: str | None = None
    currency: str | None = None
    search: str | None = None


async def payments(
    connection: asyncpg.Connection, where: PaymentFilter, after: Position | None, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` payments matching `where`, the most recently seen first, after `after`."""
    rows: list[asyncpg.Record] = await connection.fetch(
        PAYMENT_ROW
        + """
         WHERE ($1::text IS NULL OR payment.status = $1)
           AND ($2::timestamptz IS NULL OR payment.first_seen_at >= $2)
           AND ($3::timestamptz IS NULL OR payment.first_seen_at < $3)
           AND ($4::text IS NULL OR contract.coach_id = $4)
           AND ($5::text IS NULL OR contract.student_id = $5)
           AND ($6::text IS NULL OR coalesce(payment.currency, payment.held_currency) = $6)
           AND ($7::text IS NULL OR payment.id::text = $7 OR payment.contract_id::text = $7
                OR payment.stripe_checkout_session_id = $7
                OR payment.stripe_payment_intent_id = $7)
           AND ($8::timestamptz IS NULL OR (payment.first_seen_at, payment.id) < ($8, $9))
         ORDER BY payment.first_seen_at DESC, payment.id DESC
         LIMIT $10
        """,
        where.status,
        where.since,
        where.before,
        where.coach,
        where.student,
        where.currency,
        where.search,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return rows


async def payment(connection: asyncpg.Connection, payment_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(PAYMENT_ROW + " WHERE payment.id = $1", payment_id)


async def timeline(connection: asyncpg.Connection, payment_id: UUID) -> list[asyncpg.Record]:
    """The payment's states, oldest first."""
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT * FROM payment_timeline WHERE payment_id = $1 ORDER BY at, event_id", payment_id
    )
    return rows


async def of_contract(
    connection: asyncpg.Connection, contract_id: UUID
) -> dict[str, list[asyncpg.Record]]:
    """The contract's other payments, sessions, refunds and disputes."""
    return {
        "payments": await connection.fetch(
            "SELECT * FROM payments WHERE contract_id = $1 ORDER BY first_seen_at", contract_id
        ),
        "sessions": await connection.fetch(
            "SELECT * FROM sessions WHERE contract_id = $1 ORDER BY starts_at", contract_id
        ),
        "refunds": await connection.fetch(
            "SELECT * FROM refunds WHERE contract_id = $1 ORDER BY refunded_at", contract_id
        ),
        "disputes": await connection.fetch(
            "SELECT * FROM disputes WHERE contract_id = $1 ORDER BY opened_at", contract_id
        ),
    }


async def held(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    """The payments held for review, the oldest hold first."""
    rows: list[asyncpg.Record] = await connection.fetch(
        PAYMENT_ROW
        + " WHERE payment.status = 'held_for_review' ORDER BY payment.held_at, payment.id"
    )
    return rows


async def refunds(connection: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT refund.*, contract.title FROM refunds AS refund"
        " LEFT JOIN contracts AS contract ON contract.id = refund.contract_id"
        " ORDER BY refund.refunded_at DESC LIMIT $1",
        limit,
    )
    return rows


async def disputes(connection: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Open disputes first, then the latest closed."""
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT dispute.*, contract.title FROM disputes AS dispute"
        " LEFT JOIN contracts AS contract ON contract.id = dispute.contract_id"
        " ORDER BY dispute.outcome IS NOT NULL, coalesce(dispute.closed_at, dispute.opened_at)"
        " DESC LIMIT $1",
        limit,
    )
    return rows


async def counts(connection: asyncpg.Connection) -> asyncpg.Record:
    """What needs a person: held payments, open disputes; and the archive's size."""
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM payments WHERE status = 'held_for_review') AS held,"
        " (SELECT count(*) FROM disputes WHERE outcome IS NULL) AS open_disputes,"
        " (SELECT count(*) FROM payments) AS payments,"
        " (SELECT count(*) FROM event_archive) AS archived,"
        " (SELECT max(received_at) FROM event_archive) AS last_received"
    )
    assert row is not None
    return row
