"""The report queries on the read model (`skileez_backoffice.domain.reports` says what each
figure counts)."""

from __future__ import annotations

import asyncpg

from skileez_backoffice.domain.reports import Funnel, GroupBy, Period, RevenueLine

GROUPS = {
    GroupBy.DAY: "to_char(movement.at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    GroupBy.WEEK: "to_char(date_trunc('week', movement.at AT TIME ZONE 'UTC'), 'IYYY-\"W\"IW')",
    GroupBy.MONTH: "to_char(movement.at AT TIME ZONE 'UTC', 'YYYY-MM')",
    GroupBy.COACH: "coalesce(contract.coach_id, '')",
}
"""The group of a movement: its UTC day, ISO week or month, or its contract's coach."""

MOVEMENTS = """
    SELECT payment.paid_at AS at, payment.contract_id, payment.currency,
           payment.amount AS gross, 0 AS refunded, 0 AS disputed, 1 AS paid
      FROM payments AS payment
     WHERE payment.paid_at >= $1 AND payment.paid_at < $2
    UNION ALL
    SELECT refund.refunded_at, refund.contract_id, refund.currency, 0, refund.amount, 0, 0
      FROM refunds AS refund JOIN payments AS payment ON payment.id = refund.payment_id
     WHERE payment.paid_at IS NOT NULL AND refund.refunded_at >= $1 AND refund.refunded_at < $2
    UNION ALL
    SELECT dispute.closed_at, dispute.contract_id, dispute.currency, 0, 0, dispute.amount, 0
      FROM disputes AS dispute JOIN payments AS payment ON payment.id = dispute.payment_id
     WHERE payment.paid_at IS NOT NULL AND dispute.outcome = 'lost' AND dispute.amount IS NOT NULL
       AND dispute.closed_at >= $1 AND dispute.closed_at < $2
"""
"""Every movement of money of the period: payments paid, refunds made, disputes lost."""


async def revenue(
    connection: asyncpg.Connection, period: Period, group_by: GroupBy, currency: str | None
) -> list[RevenueLine]:
    """The figures by group and currency, in group then currency order."""
    rows = await connection.fetch(
        f"SELECT {GROUPS[group_by]} AS grouped, movement.currency,"
        " sum(movement.gross)::bigint AS gross, sum(movement.refunded)::bigint AS refunded,"
        " sum(movement.disputed)::bigint AS disputed, sum(movement.paid)::bigint AS count,"
        " max(contract.coach_name) AS coach_name"
        f" FROM ({MOVEMENTS}) AS movement"
        " LEFT JOIN contracts AS contract ON contract.id = movement.contract_id"
        " WHERE $3::text IS NULL OR movement.currency = $3"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        period.starts_at,
        period.ends_before,
        currency,
    )
    return [
        RevenueLine(
            group=row["grouped"],
            currency=row["currency"],
            gross=row["gross"],
            refunded=row["refunded"],
            disputed=row["disputed"],
            count=row["count"],
            coach_name=row["coach_name"] if group_by is GroupBy.COACH else None,
        )
        for row in rows
    ]


async def funnel(connection: asyncpg.Connection, period: Period) -> Funnel:
    """Contracts created in the period, how many of them saw a payment attempt, how many were
    paid, and the median time from creation to first payment."""
    row = await connection.fetchrow(
        "SELECT count(*) AS created,"
        " count(*) FILTER (WHERE attempts.count > 0) AS started,"
        " count(*) FILTER (WHERE attempts.first_paid_at IS NOT NULL) AS paid,"
        " percentile_cont(0.5) WITHIN GROUP"
        "  (ORDER BY extract(epoch FROM attempts.first_paid_at - contract.created_at)) AS median"
        " FROM contracts AS contract CROSS JOIN LATERAL"
        " (SELECT count(*) AS count, min(payment.paid_at) AS first_paid_at"
        "  FROM payments AS payment WHERE payment.contract_id = contract.id) AS attempts"
        " WHERE contract.created_at >= $1 AND contract.created_at < $2",
        period.starts_at,
        period.ends_before,
    )
    assert row is not None
    median = row["median"]
    return Funnel(
        row["created"], row["started"], row["paid"], None if median is None else float(median)
    )
