"""The read model's repositories: plain SQL on the asyncpg connection of the transaction.

A view is locked before it is merged (`for_event` creates its row first if needed, so two
transactions never both create it and one overwrite the other); facts kept as told are upserts
whose merge is commutative (`skileez_backoffice.domain.records`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from skileez_backoffice.adapters.tables import READ_MODEL
from skileez_backoffice.domain.contracts import ContractView
from skileez_backoffice.domain.payments import PaymentView, TimelineEntry
from skileez_backoffice.domain.records import (
    DisputeClosed,
    DisputeOpened,
    Hold,
    Refund,
    SessionChange,
)
from skileez_backoffice.service_layer.unit_of_work import ArchivedEvent
from skileez_events import CloudEvent


def _update(table: str, columns: Sequence[str]) -> str:
    """`UPDATE table SET column = $2, ... WHERE id = $1`."""
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(columns, start=2))
    return f"UPDATE {table} SET {assignments} WHERE id = $1"


CONTRACT_COLUMNS = [f.name for f in dataclasses.fields(ContractView) if f.name != "id"]
PAYMENT_COLUMNS = [f.name for f in dataclasses.fields(PaymentView) if f.name != "id"]


class ArchiveRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, envelope: CloudEvent) -> None:
        await self._connection.execute(
            "INSERT INTO event_archive (event_id, event_type, subject, occurred_at, envelope)"
            " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (event_id) DO NOTHING",
            envelope.id,
            envelope.type,
            envelope.subject,
            envelope.time,
            envelope.to_json().decode(),
        )

    async def after(self, seq: int, limit: int) -> list[ArchivedEvent]:
        rows = await self._connection.fetch(
            "SELECT seq, envelope::text AS envelope FROM event_archive WHERE seq > $1"
            " ORDER BY seq LIMIT $2",
            seq,
            limit,
        )
        return [ArchivedEvent(row["seq"], CloudEvent.from_json(row["envelope"])) for row in rows]


class ContractRepository:
    _update = _update("contracts", [*CONTRACT_COLUMNS, "status"])

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def for_event(self, contract_id: UUID) -> ContractView:
        await self._connection.execute(
            "INSERT INTO contracts (id, status) VALUES ($1, 'pending') ON CONFLICT DO NOTHING",
            contract_id,
        )
        row = await self._connection.fetchrow(
            "SELECT * FROM contracts WHERE id = $1 FOR UPDATE", contract_id
        )
        assert row is not None
        return ContractView(id=row["id"], **{column: row[column] for column in CONTRACT_COLUMNS})

    async def save(self, contract: ContractView) -> None:
        values = [getattr(contract, column) for column in CONTRACT_COLUMNS]
        await self._connection.execute(self._update, contract.id, *values, contract.status)


class PaymentRepository:
    _update = _update("payments", [*PAYMENT_COLUMNS, "status"])

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def for_event(self, payment_id: UUID, contract_id: UUID, at: datetime) -> PaymentView:
        await self._connection.execute(
            "INSERT INTO payments (id, contract_id, status, first_seen_at, refunded_total,"
            " fully_refunded) VALUES ($1, $2, 'processing', $3, 0, false) ON CONFLICT DO NOTHING",
            payment_id,
            contract_id,
            at,
        )
        row = await self._connection.fetchrow(
            "SELECT * FROM payments WHERE id = $1 FOR UPDATE", payment_id
        )
        assert row is not None
        return PaymentView(id=row["id"], **{column: row[column] for column in PAYMENT_COLUMNS})

    async def save(self, payment: PaymentView) -> None:
        values = [getattr(payment, column) for column in PAYMENT_COLUMNS]
        await self._connection.execute(self._update, payment.id, *values, payment.status)


class FactRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def timeline(self, entry: TimelineEntry) -> None:
        await self._connection.execute(
            "INSERT INTO payment_timeline (event_id, payment_id, state, at, event_type, detail,"
            " correlation_id, causation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (event_id) DO NOTHING",
            entry.event_id,
            entry.payment_id,
            entry.state,
            entry.at,
            entry.event_type,
            entry.detail,
            entry.correlation_id,
            entry.causation_id,
        )

    async def refund(self, refund: Refund) -> None:
        await self._connection.execute(
            "INSERT INTO refunds (stripe_refund_id, payment_id, contract_id, amount,"
            " total_refunded, currency, fully_refunded, refunded_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (stripe_refund_id) DO NOTHING",
            *dataclasses.astuple(refund),
        )

    async def dispute_opened(self, dispute: DisputeOpened) -> None:
        await self._connection.execute(
            "INSERT INTO disputes (stripe_dispute_id, payment_id, contract_id, amount, currency,"
            " reason, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (stripe_dispute_id) DO UPDATE SET amount = EXCLUDED.amount,"
            " currency = EXCLUDED.currency, reason = EXCLUDED.reason,"
            " opened_at = EXCLUDED.opened_at",
            *dataclasses.astuple(dispute),
        )

    async def dispute_closed(self, dispute: DisputeClosed) -> None:
        await self._connection.execute(
            "INSERT INTO disputes (stripe_dispute_id, payment_id, contract_id, outcome, closed_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stripe_dispute_id) DO UPDATE"
            " SET outcome = EXCLUDED.outcome, closed_at = EXCLUDED.closed_at",
            *dataclasses.astuple(dispute),
        )

    async def hold(self, hold: Hold) -> None:
        await self._connection.execute(
            "INSERT INTO holds (payment_id, contract_id, amount, currency, reason, held_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            *dataclasses.astuple(hold),
        )

    async def session_booked(self, session: SessionChange) -> None:
        await self._connection.execute(
            "INSERT INTO sessions (id, contract_id, status, starts_at, duration_minutes,"
            " booked_by, booked_at) VALUES ($1, $2, 'scheduled', $3, $4, $5, $6)"
            " ON CONFLICT (id) DO UPDATE SET booked_by = EXCLUDED.booked_by,"
            " booked_at = EXCLUDED.booked_at",
            *dataclasses.astuple(session),
        )

    async def session_cancelled(self, session: SessionChange) -> None:
        await self._connection.execute(
            "INSERT INTO sessions (id, contract_id, status, starts_at, duration_minutes,"
            " cancelled_by, cancelled_at) VALUES ($1, $2, 'cancelled', $3, $4, $5, $6)"
            " ON CONFLICT (id) DO UPDATE SET status = 'cancelled',"
            " cancelled_by = EXCLUDED.cancelled_by, cancelled_at = EXCLUDED.cancelled_at",
            *dataclasses.astuple(session),
        )


async def clear_read_model(connection: asyncpg.Connection) -> None:
    """Empty the read model in one statement (one lock order, whatever else runs)."""
    await connection.execute(f"TRUNCATE {', '.join(table.name for table in READ_MODEL)}")
