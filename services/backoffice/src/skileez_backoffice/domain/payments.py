"""A payment as the operators see it, from payments' events in any order: its facts, the status
they add up to, and the entries of its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from skileez_backoffice.domain.facts import earliest, latest, of_the_latest


class PaymentStatus(StrEnum):
    """Payments' own vocabulary (a lost dispute leaves a payment refunded)."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    HELD_FOR_REVIEW = "held_for_review"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


class TimelineState(StrEnum):
    """What one event did to a payment."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    HELD_FOR_REVIEW = "held_for_review"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


@dataclass(frozen=True)
class TimelineEntry:
    """One state of a payment, with its time and its cause (the event that told of it)."""

    event_id: str
    payment_id: UUID
    state: TimelineState
    at: datetime
    event_type: str
    detail: str
    correlation_id: str
    causation_id: str | None


@dataclass
class PaymentView:
    id: UUID
    contract_id: UUID
    first_seen_at: datetime
    amount: int | None = None
    currency: str | None = None
    stripe_checkout_session_id: str | None = None
    stripe_payment_intent_id: str | None = None
    processing_at: datetime | None = None
    paid_at: datetime | None = None
    failed_at: datetime | None = None
    failure_reason: str | None = None
    held_at: datetime | None = None
    held_reason: str | None = None
    held_amount: int | None = None
    held_currency: str | None = None
    refunded_total: int = 0
    fully_refunded: bool = False
    last_refunded_at: datetime | None = None
    dispute_opened_at: datetime | None = None
    dispute_closed_at: datetime | None = None
    dispute_outcome: str | None = None

    @property
    def dispute_open(self) -> bool:
        return self.dispute_opened_at is not None and (
            self.dispute_closed_at is None or self.dispute_closed_at < self.dispute_opened_at
        )

    @property
    def status(self) -> PaymentStatus:
        """What the facts add up to, whatever order they came in: a lost dispute or a full
        refund ends it refunded; an open dispute shows; a held payment stays held until
        approved (it succeeds) or refunded whole."""
        if self.dispute_outcome == "lost" and not self.dispute_open:
            return PaymentStatus.REFUNDED
        if self.dispute_open:
            return PaymentStatus.DISPUTED
        if self.fully_refunded:
            return PaymentStatus.REFUNDED
        if self.paid_at is None and self.held_at is not None:
            return PaymentStatus.HELD_FOR_REVIEW
        if self.refunded_total > 0:
            return PaymentStatus.PARTIALLY_REFUNDED
        if self.paid_at is not None:
            return PaymentStatus.SUCCEEDED
        if self.failed_at is not None and (
            self.processing_at is None or self.failed_at >= self.processing_at
        ):
            return PaymentStatus.FAILED
        return PaymentStatus.PROCESSING

    def seen(self, at: datetime) -> None:
        self.first_seen_at = min(self.first_seen_at, at)

    def processing(
        self, amount: int, currency: str, checkout_session_id: str, at: datetime
    ) -> None:
        self._expected(amount, currency)
        self.stripe_checkout_session_id = checkout_session_id or self.stripe_checkout_session_id
        self.processing_at = earliest(self.processing_at, at)
        self.seen(at)

    def succeeded(
        self,
        amount: int,
        currency: str,
        checkout_session_id: str,
        payment_intent_id: str,
        paid_at: datetime,
    ) -> None:
        self._expected(amount, currency)
        self.stripe_checkout_session_id = checkout_session_id or self.stripe_checkout_session_id
        self.stripe_payment_intent_id = payment_intent_id or self.stripe_payment_intent_id
        self.paid_at = earliest(self.paid_at, paid_at)
        self.seen(paid_at)

    def failed(self, reason: str, checkout_session_id: str, failed_at: datetime) -> None:
        self.stripe_checkout_session_id = checkout_session_id or self.stripe_checkout_session_id
        self.failure_reason = of_the_latest(self.failed_at, self.failure_reason, failed_at, reason)
        self.failed_at = latest(self.failed_at, failed_at)
        self.seen(failed_at)

    def held(self, amount: int, currency: str, reason: str, held_at: datetime) -> None:
        """What Stripe charged and why it cannot count (the first hold decides)."""
        if self.held_at is None or held_at < self.held_at:
            self.held_reason = reason
            self.held_amount = amount
            self.held_currency = currency
        self.held_at = earliest(self.held_at, held_at)
        self.seen(held_at)

    def refunded(self, total_refunded: int, fully: bool, refunded_at: datetime) -> None:
        """Refunds are cumulative: the largest total told is the total."""
        self.refunded_total = max(self.refunded_total, total_refunded)
        self.fully_refunded = self.fully_refunded or fully
        self.last_refunded_at = latest(self.last_refunded_at, refunded_at)
        self.seen(refunded_at)

    def disputed(self, disputed_at: datetime) -> None:
        self.dispute_opened_at = latest(self.dispute_opened_at, disputed_at)
        self.seen(disputed_at)

    def dispute_closed(self, outcome: str, closed_at: datetime) -> None:
        """A lost dispute took the money back: no other closure gives it again."""
        self.dispute_outcome = "lost" if "lost" in (self.dispute_outcome, outcome) else outcome
        self.dispute_closed_at = latest(self.dispute_closed_at, closed_at)
        self.seen(closed_at)

    def _expected(self, amount: int, currency: str) -> None:
        self.amount = amount
        self.currency = currency
