"""In-memory fakes of the unit of work, its repositories and the Stripe gateway, for handlers."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.stripe_gateway import (
    CheckoutRequest,
    StripeJson,
    StripeRefused,
    StripeUnavailable,
)
from skileez_payments.domain.admin_refund import AdminRefund
from skileez_payments.domain.cancellation import ContractCancellation
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import DomainEvent, Payment, PaymentStatus
from skileez_payments.domain.review import Review
from skileez_payments.service_layer.unit_of_work import NOT_APPLIED_OUTCOMES, UnappliedStripeEvent


class FakeContractRepository:
    def __init__(self) -> None:
        self.known: dict[uuid.UUID, PayableContract] = {}
        self.locked: list[uuid.UUID] = []

    async def learn(self, contract: PayableContract) -> None:
        self.known.setdefault(contract.id, contract)

    async def get(self, contract_id: uuid.UUID, *, lock: bool = False) -> PayableContract | None:
        if lock:
            self.locked.append(contract_id)
        return self.known.get(contract_id)


class FakePaymentRepository:
    """Hands out the stored objects themselves, as the identity map does within a transaction."""

    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, Payment] = {}

    async def add(self, payment: Payment) -> None:
        assert payment.id not in self.stored
        self.stored[payment.id] = payment

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        return self.stored.get(payment_id)

    async def by_checkout_session(self, session_id: str) -> Payment | None:
        return next((p for p in self.stored.values() if p.checkout_session_id == session_id), None)

    async def by_payment_intent(self, payment_intent_id: str) -> Payment | None:
        return next(
            (p for p in self.stored.values() if p.payment_intent_id == payment_intent_id), None
        )

    async def lock(
        self,
        *,
        sessions: Collection[str] = (),
        intents: Collection[str] = (),
        ids: Collection[uuid.UUID] = (),
    ) -> None:
        pass

    async def of_contract(self, contract_id: uuid.UUID) -> list[Payment]:
        attempts = [p for p in self.stored.values() if p.contract_id == contract_id]
        return sorted(attempts, key=lambda p: p.created_at, reverse=True)

    async def listing(
        self,
        status: PaymentStatus | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Payment]:
        chosen = [p for p in self.stored.values() if status is None or p.status is status]
        chosen.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        if after is not None:
            chosen = [p for p in chosen if (p.created_at, p.id) < after]
        return chosen[:limit]

    async def paid_attempt_of(
        self, contract_id: uuid.UUID, *, excluding: uuid.UUID
    ) -> uuid.UUID | None:
        return next(
            (
                p.id
                for p in self.stored.values()
                if p.contract_id == contract_id and p.id != excluding and p.is_paid
            ),
            None,
        )


class FakeReviewRepository:
    def __init__(self) -> None:
        self.stored: list[Review] = []

    async def add(self, review: Review) -> None:
        self.stored.append(review)

    async def record_refund(self, review_id: uuid.UUID, stripe_refund_id: str) -> None:
        self.stored = [
            dataclasses.replace(r, stripe_refund_id=stripe_refund_id) if r.id == review_id else r
            for r in self.stored
        ]

    async def of_payment(self, payment_id: uuid.UUID) -> list[Review]:
        return [review for review in self.stored if review.payment_id == payment_id]


class FakeRefundRequestRepository:
    """Hands out copies, as rows read from a table are."""

    def __init__(self) -> None:
        self.stored: dict[str, AdminRefund] = {}

    async def get(self, idempotency_key: str) -> AdminRefund | None:
        found = self.stored.get(idempotency_key)
        return dataclasses.replace(found) if found else None

    async def claim(self, request: AdminRefund) -> AdminRefund:
        return dataclasses.replace(self.stored.setdefault(request.idempotency_key, request))

    async def save_answer(self, request: AdminRefund) -> None:
        if self.stored[request.idempotency_key].stripe_refund_id is None:
            self.stored[request.idempotency_key] = dataclasses.replace(request)


class FakeCancellationRepository:
    """Hands out copies, as rows read from a table are."""

    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, ContractCancellation] = {}

    async def record(self, cancellation: ContractCancellation) -> bool:
        if cancellation.contract_id in self.stored:
            return False
        self.stored[cancellation.contract_id] = dataclasses.replace(cancellation)
        return True

    async def get(
        self, contract_id: uuid.UUID, *, lock: bool = False
    ) -> ContractCancellation | None:
        found = self.stored.get(contract_id)
        return dataclasses.replace(found) if found else None

    async def save(self, cancellation: ContractCancellation) -> None:
        self.stored[cancellation.contract_id] = dataclasses.replace(cancellation)

    async def held(self, limit: int) -> list[ContractCancellation]:
        return [c for c in self.stored.values() if c.is_held][:limit]


@dataclass
class StoredStripeEvent:
    type: str
    created: int
    payload: bytes
    source: str
    outcome: str = "processed"
    waits_for: str | None = None


@dataclass
class Published:
    """An integration event the unit of work put in the outbox: the domain event, its payment."""

    event: DomainEvent
    payment_id: uuid.UUID
    causation_id: str | None


@dataclass
class FakeDatabase:
    """What the fake units of work share, as transactions share a database."""

    contracts: FakeContractRepository = field(default_factory=FakeContractRepository)
    payments: FakePaymentRepository = field(default_factory=FakePaymentRepository)
    reviews: FakeReviewRepository = field(default_factory=FakeReviewRepository)
    refund_requests: FakeRefundRequestRepository = field(
        default_factory=FakeRefundRequestRepository
    )
    cancellations: FakeCancellationRepository = field(default_factory=FakeCancellationRepository)
    stripe_events: dict[str, StoredStripeEvent] = field(default_factory=dict)
    outbox: list[Published] = field(default_factory=list)
    status_changes: list[PaymentStatus] = field(default_factory=list)
    waited: list[str] = field(default_factory=list)
    cursor: datetime | None = None
    commits: int = 0


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.contracts = database.contracts
        self.payments = database.payments
        self.reviews = database.reviews
        self.refund_requests = database.refund_requests
        self.cancellations = database.cancellations
        self.intent_locks: set[str] = set()
        self._claimed: dict[str, bool] = {}

    def save(self, payment: Payment, causation_id: str | None = None) -> None:
        assert payment.id in self.payments.stored, "only a stored payment is saved"
        self.database.outbox += [Published(e, payment.id, causation_id) for e in payment.events]
        self.database.status_changes += payment.transitions
        payment.events.clear()
        payment.transitions.clear()
        payment.changed = False

    async def record_stripe_events(
        self, events: Sequence[tuple[stripe_objects.Event, bytes]], source: str
    ) -> set[str]:
        stored: set[str] = set()
        for event, payload in events:
            if event.id not in self.database.stripe_events:
                self.database.stripe_events[event.id] = StoredStripeEvent(
                    event.type, event.created, payload, source
                )
                stored.add(event.id)
            self._claimed.setdefault(event.id, event.id in stored)
        return stored

    async def record_stripe_event(
        self, event: stripe_objects.Event, payload: bytes, source: str
    ) -> bool:
        if event.id not in self._claimed:
            await self.record_stripe_events([(event, payload)], source)
        first = self._claimed[event.id]
        self._claimed[event.id] = False
        return first

    async def set_event_outcome(
        self, event_id: str, outcome: str, waits_for: str | None = None
    ) -> None:
        stored = self.database.stripe_events[event_id]
        stored.outcome, stored.waits_for = outcome, waits_for

    async def lock_payment_intents(self, intent_ids: Collection[str | None]) -> None:
        self.intent_locks |= {intent for intent in intent_ids if intent}

    async def read_waiting_stripe_events(self, intent_ids: Collection[str]) -> None:
        assert set(intent_ids) <= self.intent_locks

    async def waiting_stripe_events(self, intent_id: str) -> list[bytes]:
        assert intent_id in self.intent_locks
        waiting = [
            stored
            for stored in self.database.stripe_events.values()
            if stored.outcome == "unmatched" and stored.waits_for == intent_id
        ]
        return [stored.payload for stored in sorted(waiting, key=lambda s: s.created)]

    async def claim_unmatched_stripe_event(self, event_id: str) -> bool:
        stored = self.database.stripe_events.get(event_id)
        return stored is not None and stored.outcome == "unmatched"

    def count_waited(self, outcome: str) -> None:
        self.database.waited.append(outcome)

    async def stripe_event_outcomes(self, event_ids: Collection[str]) -> dict[str, str]:
        events = self.database.stripe_events
        return {event_id: events[event_id].outcome for event_id in event_ids if event_id in events}

    async def unapplied_stripe_events(self, limit: int) -> list[UnappliedStripeEvent]:
        unapplied = [
            UnappliedStripeEvent(
                id=event_id,
                type=stored.type,
                livemode=False,
                created=datetime.fromtimestamp(stored.created, UTC),
                received_at=datetime.fromtimestamp(stored.created, UTC),
                source=stored.source,
                outcome=stored.outcome,
                payment_intent=stored.waits_for,
            )
            for event_id, stored in self.database.stripe_events.items()
            if stored.outcome in NOT_APPLIED_OUTCOMES
        ]
        return sorted(unapplied, key=lambda event: event.created, reverse=True)[:limit]

    async def reconciliation_cursor(self) -> datetime | None:
        return self.database.cursor

    async def store_reconciliation_cursor(self, since: datetime) -> None:
        self.database.cursor = since


class FakeUnitsOfWork:
    """Opens fake units of work on one `FakeDatabase` (a block that raises commits nothing
    more than it changed: the fake rolls back only its record of Stripe events, so tests
    assert on what was refused)."""

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[FakeUnitOfWork]:
        recorded = {key: dataclasses.replace(e) for key, e in self.database.stripe_events.items()}
        try:
            yield FakeUnitOfWork(self.database)
        except BaseException:
            self.database.stripe_events = recorded
            raise
        self.database.commits += 1


class FakeStripe:
    """The Stripe gateway in memory: sessions and refunds made once per idempotency key."""

    def __init__(self) -> None:
        self.sessions: dict[str, StripeJson] = {}
        self.requests: list[CheckoutRequest] = []
        self.expired: list[str] = []
        """Sessions expired through the API, in order."""
        self.refunds: dict[str, StripeJson] = {}
        self.refund_calls: list[tuple[str, int | None, str | None, str]] = []
        self.events: list[StripeJson] = []
        self.unavailable = False
        self.refusal: str | None = None

    def _check(self) -> None:
        if self.unavailable:
            raise StripeUnavailable("APIConnectionError")
        if self.refusal is not None:
            raise StripeRefused(self.refusal, "resource_missing")

    async def create_checkout_session(self, request: CheckoutRequest) -> StripeJson:
        self._check()
        self.requests.append(request)
        session_id = f"cs_test_{request.idempotency_key}"
        return self.sessions.setdefault(
            session_id,
            {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": request.amount,
                "currency": request.currency,
                "livemode": False,
                "client_reference_id": request.contract_id,
                "metadata": {"contract_id": request.contract_id, "payment_id": request.payment_id},
                "payment_intent": None,
            },
        )

    async def retrieve_checkout_session(self, session_id: str) -> StripeJson:
        self._check()
        if session_id not in self.sessions:
            raise StripeRefused("No such checkout.session", "resource_missing")
        return self.sessions[session_id]

    async def expire_checkout_session(self, session_id: str) -> StripeJson:
        session = await self.retrieve_checkout_session(session_id)
        if session["status"] != "open":
            raise StripeRefused("Only open Checkout Sessions can be expired.", None)
        self.expired.append(session_id)
        session.update(status="expired", url=None)
        return session

    async def create_refund(
        self, payment_intent_id: str, amount: int | None, reason: str | None, idempotency_key: str
    ) -> StripeJson:
        self._check()
        self.refund_calls.append((payment_intent_id, amount, reason, idempotency_key))
        return self.refunds.setdefault(
            idempotency_key,
            {
                "id": f"re_{len(self.refunds) + 1}",
                "amount": amount,
                "payment_intent": payment_intent_id,
                "status": "pending",
            },
        )

    async def events_since(self, since: datetime, types: list[str]) -> AsyncIterator[StripeJson]:
        self._check()
        for event in sorted(self.events, key=lambda e: -int(e["created"])):  # newest first
            if int(event["created"]) >= int(since.timestamp()) and event["type"] in types:
                yield event


def complete(session: StripeJson, **fields: Any) -> StripeJson:
    """The session as Stripe has it once the customer paid (or `fields` say otherwise)."""
    paid = {
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": f"pi_{session['id'][-12:]}",
        **fields,
    }
    session.update(paid)
    return session
