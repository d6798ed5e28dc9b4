"""The Unit of Work protocol: what handlers use of one transaction (repositories, Stripe's
event record, the PaymentIntents' locks); `adapters.unit_of_work` implements it on asyncpg."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from skileez_payments.adapters import stripe_objects
from skileez_payments.domain.admin_refund import AdminRefund
from skileez_payments.domain.cancellation import ContractCancellation
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import Payment, PaymentStatus
from skileez_payments.domain.review import Review

NOT_APPLIED_OUTCOMES = (
    "unmatched",
    "unreadable",
    "currency_mismatch",
    "livemode_mismatch",
    "unknown_dispute_status",
)
"""Outcomes of Stripe events recorded but not applied to any payment: what operators list."""


@dataclass(frozen=True)
class UnappliedStripeEvent:
    """A Stripe event recorded and not applied (`NOT_APPLIED_OUTCOMES`), for operators."""

    id: str
    type: str
    livemode: bool
    created: datetime
    received_at: datetime
    source: str
    outcome: str
    payment_intent: str | None


class ContractRepository(Protocol):
    async def learn(self, contract: PayableContract) -> None:
        """Remember the contract, unless it is known already (its terms never change)."""

    async def get(self, contract_id: uuid.UUID, *, lock: bool = False) -> PayableContract | None:
        """The contract; `lock` holds it to the commit (one Pay click at a time)."""


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None: ...

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        """The payment; `lock` locks it and its contract."""

    async def by_checkout_session(self, session_id: str) -> Payment | None:
        """The payment of a Checkout Session, locked with its contract."""

    async def by_payment_intent(self, payment_intent_id: str) -> Payment | None:
        """The payment of a PaymentIntent, locked with its contract."""

    async def lock(
        self,
        *,
        sessions: Collection[str] = (),
        intents: Collection[str] = (),
        ids: Collection[uuid.UUID] = (),
    ) -> None:
        """Lock ahead, at once, the payments the lookups above will ask for."""

    async def of_contract(self, contract_id: uuid.UUID) -> list[Payment]:
        """Every attempt for the contract, newest first."""

    async def listing(
        self,
        status: PaymentStatus | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Payment]:
        """Payments of `status` (any if None), newest first, from just after `after`
        (created_at, id)."""

    async def paid_attempt_of(
        self, contract_id: uuid.UUID, *, excluding: uuid.UUID
    ) -> uuid.UUID | None:
        """Another attempt of the contract that already took the money; one of the contract's
        payments must be locked here first."""


class ReviewRepository(Protocol):
    async def add(self, review: Review) -> None: ...

    async def record_refund(self, review_id: uuid.UUID, stripe_refund_id: str) -> None:
        """The refund a `refund` decision got from Stripe."""

    async def of_payment(self, payment_id: uuid.UUID) -> list[Review]:
        """The payment's reviews, oldest first."""


class RefundRequestRepository(Protocol):
    async def get(self, idempotency_key: str) -> AdminRefund | None: ...

    async def claim(self, request: AdminRefund) -> AdminRefund:
        """Store the request under its key unless one is already: the one stored."""

    async def save_answer(self, request: AdminRefund) -> None:
        """Keep Stripe's answer with the request (the first answer only)."""


class CancellationRepository(Protocol):
    async def record(self, cancellation: ContractCancellation) -> bool:
        """Store the contract's cancellation; False if one is stored already."""

    async def get(
        self, contract_id: uuid.UUID, *, lock: bool = False
    ) -> ContractCancellation | None:
        """The contract's cancellation, if it was cancelled; `lock` holds it to the commit."""

    async def save(self, cancellation: ContractCancellation) -> None:
        """Store where its refund stands."""

    async def held(self, limit: int) -> list[ContractCancellation]:
        """The cancellations whose refund is held for an operator, oldest first."""


class UnitOfWork(Protocol):
    @property
    def contracts(self) -> ContractRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def reviews(self) -> ReviewRepository: ...

    @property
    def refund_requests(self) -> RefundRequestRepository: ...

    @property
    def cancellations(self) -> CancellationRepository: ...

    def save(self, payment: Payment, causation_id: str | None = None) -> None:
        """Stage a locked payment's changes and the integration events its transitions caused."""

    async def record_stripe_events(
        self, events: Sequence[tuple[stripe_objects.Event, bytes]], source: str
    ) -> set[str]:
        """Store each event once with its raw body; the ids stored now (not before)."""

    async def record_stripe_event(
        self, event: stripe_objects.Event, payload: bytes, source: str
    ) -> bool:
        """True once per event: the first time it is stored; False for a duplicate."""

    async def set_event_outcome(
        self, event_id: str, outcome: str, waits_for: str | None = None
    ) -> None:
        """Store what the event did; `waits_for`: the PaymentIntent an unmatched one waits for."""

    async def lock_payment_intents(self, intent_ids: Collection[str | None]) -> None:
        """Hold each PaymentIntent's lock to the commit, before any row lock: a refund that
        finds no payment and the payment becoming paid then go one after the other."""

    async def read_waiting_stripe_events(self, intent_ids: Collection[str]) -> None:
        """Read ahead the events waiting for these PaymentIntents (locked here)."""

    async def waiting_stripe_events(self, intent_id: str) -> list[bytes]:
        """The raw bodies of the refunds and disputes recorded "unmatched" that wait for this
        PaymentIntent (locked here), oldest first; each is answered once per transaction."""

    async def claim_unmatched_stripe_event(self, event_id: str) -> bool:
        """Lock an event recorded "unmatched" until the commit; False if it is not (any more)."""

    def count_waited(self, outcome: str) -> None:
        """Count a waiting refund or dispute applied, once the transaction has committed."""

    async def stripe_event_outcomes(self, event_ids: Collection[str]) -> dict[str, str]:
        """The stored outcome of each of these events that is recorded."""

    async def unapplied_stripe_events(self, limit: int) -> list[UnappliedStripeEvent]:
        """Recorded events that no payment took (`NOT_APPLIED_OUTCOMES`), newest first."""

    async def reconciliation_cursor(self) -> datetime | None:
        """Where the last reconciliation pass asked Stripe's Events API to start."""

    async def store_reconciliation_cursor(self, since: datetime) -> None: ...


UnitsOfWork = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
"""Opens a unit of work in a transaction of its own, committed when its block ends normally."""
