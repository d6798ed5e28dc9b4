"""`PostgresUnitOfWork`: the unit of work on an asyncpg connection inside
`skileez_db.connections.transaction`.

Saving a payment maps the domain events it recorded to integration events (`PaymentSucceeded`,
`PaymentFailed`, `PaymentRefunded`, `PaymentHeld`, `PaymentDisputed`, `PaymentDisputeClosed`) in
the outbox, so a state change and the event it causes
commit together; its status changes are counted in the metrics once the transaction commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import after_commit, connection, identity_map, transaction
from skileez_db.statements import insert_rows_sql
from skileez_events import (
    EventData,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentHeld,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    new_event,
)
from skileez_payments import metrics
from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.repositories import (
    CancellationRepository,
    ContractRepository,
    PaymentRepository,
    RefundRequestRepository,
    ReviewRepository,
)
from skileez_payments.adapters.tables import outbox, stripe_events
from skileez_payments.domain.payment import (
    DisputeClosed,
    Disputed,
    DomainEvent,
    Failed,
    Held,
    Payment,
    PaymentStatus,
    Processing,
    Refunded,
    Succeeded,
)
from skileez_payments.service_layer.unit_of_work import NOT_APPLIED_OUTCOMES, UnappliedStripeEvent

_EVENT_COLUMNS = ("id", "type", "livemode", "created", "payload", "source", "outcome")
_RECORD_EVENTS = (
    f"{insert_rows_sql(stripe_events, _EVENT_COLUMNS)} ON CONFLICT DO NOTHING RETURNING id"
)
_SET_OUTCOME = "UPDATE stripe_events SET outcome = $2, payment_intent = $3 WHERE id = $1"
_CLAIM_UNMATCHED = "SELECT 1 FROM stripe_events WHERE id = $1 AND outcome = 'unmatched' FOR UPDATE"
_LOCK_INTENTS = (
    "SELECT pg_advisory_xact_lock(20553, key) FROM (SELECT DISTINCT hashtext(intent) AS key"
    " FROM unnest($1::text[]) AS intent ORDER BY key) AS keys"
)
"""A PaymentIntent's lock is the advisory lock (20553 = "PI", hash of its id), apart from the
one-key advisory lock of reconciliation; taken in the order of the keys, so two transactions
never wait on each other in a cycle."""
_WAITING = (
    "SELECT payment_intent, payload FROM stripe_events"
    " WHERE payment_intent = ANY($1::text[]) AND outcome = 'unmatched'"
    " ORDER BY created, id FOR UPDATE"
)
_OUTCOMES = "SELECT id, outcome FROM stripe_events WHERE id = ANY($1::text[])"
_UNAPPLIED = (
    "SELECT id, type, livemode, created, received_at, source, outcome, payment_intent"
    " FROM stripe_events WHERE outcome = ANY($1::text[]) ORDER BY created DESC, id LIMIT $2"
)
_CURSOR = "stripe_events"
_READ_CURSOR = "SELECT created_since FROM reconciliation_cursor WHERE name = $1"
_STORE_CURSOR = (
    "INSERT INTO reconciliation_cursor (name, created_since) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET created_since = $2, updated_at = now()"
)

ADVISORY_LOCK = 0x5C11EE5_0001
"""The key every replica's reconciliation pass takes (pg_try_advisory_lock)."""


@dataclass
class IntentLocked:
    """This transaction holds the PaymentIntent's advisory lock."""


@dataclass
class WaitingStripeEvents:
    """The raw bodies of the unmatched events that wait for a PaymentIntent, read ahead."""

    payloads: list[bytes]


@dataclass
class StripeEventRecorded:
    """Whether this transaction stored the event first and no copy of it was applied yet."""

    first: bool


_INTENT_LOCKED = IntentLocked()


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.contracts = ContractRepository(connection)
        self.payments = PaymentRepository(connection)
        self.reviews = ReviewRepository(connection)
        self.refund_requests = RefundRequestRepository(connection)
        self.cancellations = CancellationRepository(connection)
        self._status_changes: list[PaymentStatus] = []
        self._waited: list[str] = []

    def save(self, payment: Payment, causation_id: str | None = None) -> None:
        """Stage the payment's changes and the integration events its transitions caused: both
        are written just before the transaction commits."""
        self.payments.save(payment)
        for event in payment.events:
            outbox.add(
                self.connection,
                new_event(
                    _integration_event(payment, event),
                    subject=str(payment.contract_id),
                    correlation_id=payment.correlation_id,
                    causation_id=causation_id,
                ),
            )
        if payment.transitions and not self._status_changes:
            after_commit(self.connection, self._count_status_changes)
        self._status_changes += payment.transitions
        payment.events.clear()
        payment.transitions.clear()

    async def record_stripe_events(
        self, events: Sequence[tuple[stripe_objects.Event, bytes]], source: str
    ) -> set[str]:
        """In one statement; a concurrent twin waits on the primary key for our commit, then
        finds it taken. What was tried is kept for `record_stripe_event` to claim."""
        columns = zip(
            *(
                (
                    event.id,
                    event.type,
                    event.livemode,
                    datetime.fromtimestamp(event.created, UTC),
                    payload,
                    source,
                    "processed",
                )
                for event, payload in events
            ),
            strict=True,
        )
        rows = await self.connection.fetch(_RECORD_EVENTS, *(list(c) for c in columns))
        stored = {row["id"] for row in rows}
        kept = identity_map(self.connection)
        for event, _ in events:
            kept.add(event.id, StripeEventRecorded(first=event.id in stored))
        return stored

    async def record_stripe_event(
        self, event: stripe_objects.Event, payload: bytes, source: str
    ) -> bool:
        """Stored now or by this transaction's `record_stripe_events`; a second copy is a
        duplicate, even in this transaction."""
        kept = identity_map(self.connection)
        recorded = kept.get(StripeEventRecorded, event.id)
        if recorded is None:
            await self.record_stripe_events([(event, payload)], source)
            recorded = kept.get(StripeEventRecorded, event.id)
            assert recorded is not None
        first = recorded.first
        recorded.first = False
        return first

    async def set_event_outcome(
        self, event_id: str, outcome: str, waits_for: str | None = None
    ) -> None:
        await self.connection.execute(_SET_OUTCOME, event_id, outcome, waits_for)

    async def lock_payment_intents(self, intent_ids: Collection[str | None]) -> None:
        """Those not held yet, in one statement."""
        kept = identity_map(self.connection)
        new = {intent for intent in intent_ids if intent and kept.get(IntentLocked, intent) is None}
        if new:
            await self.connection.execute(_LOCK_INTENTS, sorted(new))
            for intent in new:
                kept.add(intent, _INTENT_LOCKED)

    async def read_waiting_stripe_events(self, intent_ids: Collection[str]) -> None:
        """In one statement, locked, for `waiting_stripe_events` to answer without a round trip."""
        kept = identity_map(self.connection)
        waiting: dict[str, WaitingStripeEvents] = {}
        for intent in intent_ids:
            if kept.get(IntentLocked, intent) is None:
                raise RuntimeError(f"PaymentIntent {intent} is not locked here")
            kept.add(intent, waiting.setdefault(intent, WaitingStripeEvents([])))
        if intent_ids:
            for row in await self.connection.fetch(_WAITING, list(intent_ids)):
                waiting[row["payment_intent"]].payloads.append(row["payload"])

    async def waiting_stripe_events(self, intent_id: str) -> list[bytes]:
        kept = identity_map(self.connection)
        if kept.get(WaitingStripeEvents, intent_id) is None:
            await self.read_waiting_stripe_events([intent_id])
        waiting = kept.pop(WaitingStripeEvents, intent_id)
        assert waiting is not None
        return waiting.payloads

    async def claim_unmatched_stripe_event(self, event_id: str) -> bool:
        return await self.connection.fetchval(_CLAIM_UNMATCHED, event_id) is not None

    def count_waited(self, outcome: str) -> None:
        if not self._waited:
            after_commit(self.connection, self._count_waited)
        self._waited.append(outcome)

    async def stripe_event_outcomes(self, event_ids: Collection[str]) -> dict[str, str]:
        rows = await self.connection.fetch(_OUTCOMES, list(event_ids))
        return {row["id"]: row["outcome"] for row in rows}

    async def unapplied_stripe_events(self, limit: int) -> list[UnappliedStripeEvent]:
        rows = await self.connection.fetch(_UNAPPLIED, list(NOT_APPLIED_OUTCOMES), limit)
        return [UnappliedStripeEvent(**row) for row in rows]

    async def reconciliation_cursor(self) -> datetime | None:
        since: datetime | None = await self.connection.fetchval(_READ_CURSOR, _CURSOR)
        return since

    async def store_reconciliation_cursor(self, since: datetime) -> None:
        await self.connection.execute(_STORE_CURSOR, _CURSOR, since)

    def _count_status_changes(self) -> None:
        for status in self._status_changes:
            metrics.PAYMENT_STATUS_CHANGES.labels(status).inc()

    def _count_waited(self) -> None:
        for outcome in self._waited:
            metrics.WAITED_EVENTS.labels(outcome).inc()


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[PostgresUnitOfWork]:
    """One transaction: committed when the block ends normally, rolled back if it raises."""
    async with transaction(engine) as borrowed:
        yield PostgresUnitOfWork(borrowed)


@asynccontextmanager
async def reconciliation_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Whether this replica holds reconciliation's lock (a session advisory lock) for the block."""
    async with connection(engine) as holder:
        taken: bool = await holder.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK)
        try:
            yield taken
        finally:
            if taken:
                await holder.fetchval("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK)


def _integration_event(payment: Payment, event: DomainEvent) -> EventData:
    match event:
        case Succeeded(paid_at=paid_at):
            return PaymentSucceeded(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                amount=payment.amount,
                currency=payment.currency,
                stripe_checkout_session_id=payment.checkout_session_id or "",
                stripe_payment_intent_id=payment.payment_intent_id or "",
                paid_at=paid_at,
            )
        case Failed(reason=reason, failed_at=failed_at):
            return PaymentFailed(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                reason=reason,
                stripe_checkout_session_id=payment.checkout_session_id or "",
                failed_at=failed_at,
            )
        case Processing(processing_at=processing_at):
            return PaymentProcessing(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                amount=payment.amount,
                currency=payment.currency,
                stripe_checkout_session_id=payment.checkout_session_id or "",
                processing_at=processing_at,
            )
        case Held(reason=reason, held_at=held_at):
            return PaymentHeld(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                amount=payment.amount if payment.charged_amount is None else payment.charged_amount,
                currency=payment.charged_currency or payment.currency,
                reason=reason,
                held_at=held_at,
            )
        case Disputed():
            return PaymentDisputed(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                stripe_dispute_id=event.stripe_dispute_id,
                amount=event.amount,
                currency=event.currency,
                reason=event.reason,
                disputed_at=event.disputed_at,
            )
        case DisputeClosed():
            return PaymentDisputeClosed(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                stripe_dispute_id=event.stripe_dispute_id,
                outcome=event.outcome.value,
                closed_at=event.closed_at,
            )
        case Refunded():
            return PaymentRefunded(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                refund_amount=event.refund_amount,
                total_refunded=event.total_refunded,
                currency=payment.charged_currency or payment.currency,
                fully_refunded=event.fully_refunded,
                stripe_refund_id=event.stripe_refund_id,
                refunded_at=event.refunded_at,
            )
