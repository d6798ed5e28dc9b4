"""The Payment aggregate: one Checkout attempt for a contract, and its guarded transitions.

State only moves forward: a late or replayed Stripe event that would move it back is a no-op.
Each transition that the rest of the system must learn records a domain event in `events`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PaymentStatus(StrEnum):
    OPEN = "open"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"
    HELD_FOR_REVIEW = "held_for_review"


S = PaymentStatus

PAID_STATUSES = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})
"""Money was captured: the contract is paid, whatever happened to it afterwards."""

SETTLING_STATUSES = frozenset({S.PROCESSING, S.HELD_FOR_REVIEW})
"""The customer finished checkout; a new attempt must not be started meanwhile."""

_NEXT: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.OPEN: frozenset({S.PROCESSING, S.SUCCEEDED, S.FAILED, S.EXPIRED, S.HELD_FOR_REVIEW}),
    # A declined card leaves the Checkout Session open: the customer may still pay in it.
    S.FAILED: frozenset({S.PROCESSING, S.SUCCEEDED, S.EXPIRED, S.HELD_FOR_REVIEW}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED, S.HELD_FOR_REVIEW}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.REFUNDED: frozenset({S.DISPUTED}),
    S.DISPUTED: frozenset(),
    # Stripe never takes money on an expired session; if it ever says so, a person looks.
    S.EXPIRED: frozenset({S.HELD_FOR_REVIEW}),
    S.HELD_FOR_REVIEW: frozenset(),
}


class PaymentNotReady(Exception):
    """The event concerns a later stage than the payment has reached: try again later."""


@dataclass(frozen=True)
class Succeeded:
    paid_at: datetime


@dataclass(frozen=True)
class Failed:
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class Refunded:
    refund_amount: int
    total_refunded: int
    fully_refunded: bool
    stripe_refund_id: str
    refunded_at: datetime


DomainEvent = Succeeded | Failed | Refunded


@dataclass(frozen=True)
class Charge:
    """What Stripe says was charged, to be checked against what we asked for."""

    amount: int | None
    currency: str | None
    livemode: bool


@dataclass
class Payment:
    id: uuid.UUID
    contract_id: uuid.UUID
    amount: int
    currency: str
    correlation_id: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    status: PaymentStatus = S.OPEN
    checkout_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None
    amount_refunded: int = 0
    paid_at: datetime | None = None
    failure_reason: str | None = None
    review_reason: str | None = None
    events: list[DomainEvent] = field(default_factory=list, compare=False)
    transitions: list[PaymentStatus] = field(default_factory=list, compare=False)
    changed: bool = field(default=False, compare=False)

    def is_reusable(self, now: datetime, margin_seconds: float) -> bool:
        """An attempt whose Checkout page the customer can still use.

        A declined card leaves the session open too: offering that same page again, rather
        than a second session, is what keeps one contract from being paid twice.
        """
        return (
            self.status in (S.OPEN, S.FAILED)
            and self.checkout_url is not None
            and (self.expires_at - now).total_seconds() > margin_seconds
        )

    def attach_session(self, session_id: str, url: str) -> None:
        self.checkout_session_id = session_id
        self.checkout_url = url
        self.changed = True

    def link_payment_intent(self, payment_intent_id: str | None) -> None:
        if payment_intent_id and self.payment_intent_id != payment_intent_id:
            self.payment_intent_id = payment_intent_id
            self.changed = True

    def mark_payment_paid(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout reports the money captured: succeed, or hold if it is not what we asked."""
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        elif self.status is S.EXPIRED:
            self.hold_for_review("paid after the checkout session expired", now)
        elif self._move(S.SUCCEEDED, now):
            self.paid_at = now
            self.events.append(Succeeded(paid_at=now))

    def mark_processing(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout completed with a delayed payment method: wait for the async outcome."""
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        else:
            self._move(S.PROCESSING, now)

    def mark_failed(self, reason: str, now: datetime) -> None:
        if self._move(S.FAILED, now):
            self.failure_reason = reason
            self.events.append(Failed(reason=reason, failed_at=now))

    def mark_expired(self, now: datetime) -> None:
        if self._move(S.EXPIRED, now):
            self.failure_reason = "checkout_session_expired"
            self.events.append(Failed(reason="checkout_session_expired", failed_at=now))

    def hold_for_review(self, reason: str, now: datetime) -> None:
        if self._move(S.HELD_FOR_REVIEW, now):
            self.review_reason = reason

    def record_refunds(self, total_refunded: int, stripe_refund_id: str, now: datetime) -> None:
        """Stripe's cumulative refunded total; an older, smaller total changes nothing."""
        if self.status not in PAID_STATUSES:
            raise PaymentNotReady(f"payment {self.id} is {self.status}, not paid yet")
        if total_refunded <= self.amount_refunded:
            return
        fully = total_refunded >= self.amount
        refund_amount = total_refunded - self.amount_refunded
        self.amount_refunded = total_refunded
        self.changed = True
        self._move(S.REFUNDED if fully else S.PARTIALLY_REFUNDED, now)
        self.events.append(
            Refunded(
                refund_amount=refund_amount,
                total_refunded=total_refunded,
                fully_refunded=fully,
                stripe_refund_id=stripe_refund_id,
                refunded_at=now,
            )
        )

    def mark_disputed(self, now: datetime) -> None:
        if self.status not in PAID_STATUSES:
            raise PaymentNotReady(f"payment {self.id} is {self.status}, not paid yet")
        self._move(S.DISPUTED, now)

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.amount_refunded if self.status in PAID_STATUSES else 0

    def _mismatch(self, charge: Charge, expected_livemode: bool) -> str | None:
        if charge.livemode != expected_livemode:
            return f"livemode {charge.livemode} where {expected_livemode} was expected"
        if charge.amount != self.amount or charge.currency != self.currency:
            return (
                f"charged {charge.amount} {charge.currency} "
                f"where {self.amount} {self.currency} was asked"
            )
        return None

    def _move(self, to: PaymentStatus, now: datetime) -> bool:
        if to not in _NEXT[self.status]:
            return False
        self.status = to
        self.transitions.append(to)
        self.updated_at = now
        self.changed = True
        return True
