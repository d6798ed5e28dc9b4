"""The Unit of Work: repositories, the Stripe event record and the outbox over one transaction.

Saving a payment also maps the domain events it recorded to integration events
(`PaymentSucceeded`, `PaymentFailed`, `PaymentRefunded`) and writes them to the outbox, so a
state change and the event it causes commit together. The transaction is asyncpg's own
(`skileez_db.connections.transaction`): the webhook is this service's hot path. The
status changes are counted in the metrics once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import after_commit, locked, transaction
from skileez_db.statements import insert_rows_sql
from skileez_events import EventData, PaymentFailed, PaymentRefunded, PaymentSucceeded, new_event
from skileez_payments import metrics
from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.repository import ContractRepository, PaymentRepository
from skileez_payments.adapters.tables import outbox, stripe_events
from skileez_payments.domain.payment import (
    DomainEvent,
    Failed,
    Payment,
    PaymentStatus,
    Refunded,
    Succeeded,
)

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


class UnitOfWork:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.contracts = ContractRepository(connection)
        self.payments = PaymentRepository(connection)
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
        """Store each event once, in one statement, with the raw body it came in; return the
        ids stored now (not before, and once even if `events` holds two copies). A concurrent
        twin waits on the primary key for our commit, then finds it taken. What was tried is
        kept (`connections.locked`) for `record_stripe_event` to claim."""
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
        kept = locked(self.connection)
        for event, _ in events:
            kept[("stripe_events", event.id)] = event.id in stored
        return stored

    async def record_stripe_event(
        self, event: stripe_objects.Event, payload: bytes, source: str
    ) -> bool:
        """True once per event: the first time it is stored, now or by this transaction's
        `record_stripe_events`; False if it was already, even by this transaction."""
        kept = locked(self.connection)
        if ("stripe_events", event.id) not in kept:
            await self.record_stripe_events([(event, payload)], source)
        first: bool = kept[("stripe_events", event.id)]
        kept[("stripe_events", event.id)] = False  # claimed: a second copy is a duplicate
        return first

    async def set_event_outcome(
        self, event_id: str, outcome: str, waits_for: str | None = None
    ) -> None:
        """Store what the event did; `waits_for` is the PaymentIntent an "unmatched" refund or
        dispute waits for (`waiting_stripe_events`)."""
        await self.connection.execute(_SET_OUTCOME, event_id, outcome, waits_for)

    async def lock_payment_intents(self, intent_ids: Collection[str | None]) -> None:
        """Hold each PaymentIntent's lock to the commit (an advisory lock), those not held yet
        in one statement. Whatever finds a payment by its intent, or makes one paid, takes it
        before any row lock: a refund that finds no payment and the payment becoming paid then
        go one after the other, and the second sees what the first committed."""
        kept = locked(self.connection)
        new = {intent for intent in intent_ids if intent and ("intent_locks", intent) not in kept}
        if new:
            await self.connection.execute(_LOCK_INTENTS, sorted(new))
            for intent in new:
                kept[("intent_locks", intent)] = True

    async def read_waiting_stripe_events(self, intent_ids: Collection[str]) -> None:
        """Read, in one statement, and lock the events waiting for these PaymentIntents (their
        locks held here), for `waiting_stripe_events` to answer without a round trip."""
        kept = locked(self.connection)
        for intent in intent_ids:
            if ("intent_locks", intent) not in kept:
                raise RuntimeError(f"PaymentIntent {intent} is not locked here")
            kept[("waiting_stripe_events", intent)] = []
        if intent_ids:
            for row in await self.connection.fetch(_WAITING, list(intent_ids)):
                kept[("waiting_stripe_events", row["payment_intent"])].append(row["payload"])

    async def waiting_stripe_events(self, intent_id: str) -> list[bytes]:
        """The raw bodies of the refunds and disputes recorded "unmatched" that wait for this
        PaymentIntent (locked here), oldest first; each is answered once per transaction."""
        key = ("waiting_stripe_events", intent_id)
        kept = locked(self.connection)
        if key not in kept:
            await self.read_waiting_stripe_events([intent_id])
        payloads: list[bytes] = kept.pop(key)
        return payloads

    async def claim_unmatched_stripe_event(self, event_id: str) -> bool:
        """Lock an event recorded "unmatched" until the commit; False if it is not (any more)."""
        return await self.connection.fetchval(_CLAIM_UNMATCHED, event_id) is not None

    def count_waited(self, outcome: str) -> None:
        """Count a waiting refund or dispute applied, once the transaction has committed."""
        if not self._waited:
            after_commit(self.connection, self._count_waited)
        self._waited.append(outcome)

    def _count_status_changes(self) -> None:
        for status in self._status_changes:
            metrics.PAYMENT_STATUS_CHANGES.labels(status).inc()

    def _count_waited(self) -> None:
        for outcome in self._waited:
            metrics.WAITED_EVENTS.labels(outcome).inc()


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[UnitOfWork]:
    """One transaction: committed when the block ends normally, rolled back if it raises."""
    async with transaction(engine) as connection:
        yield UnitOfWork(connection)


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
        case Refunded():
            return PaymentRefunded(
                payment_id=payment.id,
                contract_id=payment.contract_id,
                refund_amount=event.refund_amount,
                total_refunded=event.total_refunded,
                currency=payment.currency,
                fully_refunded=event.fully_refunded,
                stripe_refund_id=event.stripe_refund_id,
                refunded_at=event.refunded_at,
            )
