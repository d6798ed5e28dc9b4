"""The Payment aggregate: one Checkout attempt for a contract, and its guarded transitions.

State only moves forward: a late or replayed Stripe event that would move it back is a no-op.
Each transition that the rest of the system must learn records a domain event in `events`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from skileez_payments.domain.errors import NotRefundable, PaymentNotReady, RefundCurrencyMismatch


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


PAID_STATUSES = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,
    }
)
"""Money was captured: the contract is paid, whatever happened to it afterwards."""

SETTLING_STATUSES = frozenset({PaymentStatus.PROCESSING, PaymentStatus.HELD_FOR_REVIEW})
"""The customer finished checkout; a new attempt must not be started meanwhile."""

_NEXT: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.OPEN: frozenset(
        {
            PaymentStatus.PROCESSING,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.EXPIRED,
            PaymentStatus.HELD_FOR_REVIEW,
        }
    ),
    # A declined card leaves the Checkout Session open: the customer may still pay in it.
    PaymentStatus.FAILED: frozenset(
        {
            PaymentStatus.PROCESSING,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.EXPIRED,
            PaymentStatus.HELD_FOR_REVIEW,
        }
    ),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.HELD_FOR_REVIEW}
    ),
    PaymentStatus.SUCCEEDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}
    ),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}
    ),
    PaymentStatus.REFUNDED: frozenset({PaymentStatus.DISPUTED}),
    PaymentStatus.DISPUTED: frozenset(),
    # Stripe never takes money on an expired session; if it ever says so, a person looks.
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.HELD_FOR_REVIEW}),
    PaymentStatus.HELD_FOR_REVIEW: frozenset(),
}


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


class SessionOutcome(Enum):
    """What a Checkout Session says of its payment."""

    OPEN = "open"
    PAID = "paid"
    AWAITING_PAYMENT = "awaiting_payment"
    """Completed with a delayed payment method: the money arrives (or not) later."""
    FAILED = "failed"
    EXPIRED = "expired"

    @classmethod
    def of(cls, status: str | None, payment_status: str, *, failed: bool) -> SessionOutcome:
        """`failed` for `async_payment_failed`, whose session still reads complete and unpaid."""
        if failed:
            return cls.FAILED
        if status == "expired":
            return cls.EXPIRED
        if status == "complete":
            paid = payment_status in ("paid", "no_payment_required")
            return cls.PAID if paid else cls.AWAITING_PAYMENT
        return cls.OPEN


@dataclass(frozen=True)
class RefundRequest:
    payment_intent_id: str
    amount: int
    idempotency_key: str


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
    status: PaymentStatus = PaymentStatus.OPEN
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
            self.status in (PaymentStatus.OPEN, PaymentStatus.FAILED)
            and self.checkout_url is not None
            and (self.expires_at - now).total_seconds() > margin_seconds
        )

    @property
    def is_paid(self) -> bool:
        return self.status in PAID_STATUSES

    @property
    def is_processing(self) -> bool:
        return self.status is PaymentStatus.PROCESSING

    def attach_session(self, session_id: str, url: str) -> None:
        self.checkout_session_id = session_id
        self.checkout_url = url
        self.changed = True

    def link_checkout_session(self, session_id: str) -> None:
        if self.checkout_session_id is None:
            self.checkout_session_id = session_id
            self.changed = True

    def link_payment_intent(self, payment_intent_id: str | None) -> None:
        if payment_intent_id and self.payment_intent_id != payment_intent_id:
            self.payment_intent_id = payment_intent_id
            self.changed = True

    def settle(
        self,
        outcome: SessionOutcome,
        charge: Charge,
        expected_livemode: bool,
        now: datetime,
        *,
        contract_paid_by: uuid.UUID | None = None,
    ) -> None:
        """Move to what the Checkout Session says. A contract is paid once: an attempt paid
        while another (`contract_paid_by`) already took the money is held for review."""
        match outcome:
            case SessionOutcome.FAILED:
                self.mark_failed("async_payment_failed", now)
            case SessionOutcome.EXPIRED:
                self.mark_expired(now)
            case SessionOutcome.PAID if contract_paid_by is not None:
                self.hold_for_review(f"contract already paid by payment {contract_paid_by}", now)
            case SessionOutcome.PAID:
                self.mark_payment_paid(charge, expected_livemode, now)
            case SessionOutcome.AWAITING_PAYMENT:
                self.mark_processing(charge, expected_livemode, now)
            case SessionOutcome.OPEN:
                pass

    def mark_payment_paid(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout reports the money captured: succeed, or hold if it is not what we asked."""
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        elif self.status is PaymentStatus.EXPIRED:
            self.hold_for_review("paid after the checkout session expired", now)
        elif self._move(PaymentStatus.SUCCEEDED, now):
            self.paid_at = now
            self.events.append(Succeeded(paid_at=now))

    def mark_processing(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout completed with a delayed payment method: wait for the async outcome."""
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        else:
            self._move(PaymentStatus.PROCESSING, now)

    def mark_failed(self, reason: str, now: datetime) -> None:
        if self._move(PaymentStatus.FAILED, now):
            self.failure_reason = reason
            self.events.append(Failed(reason=reason, failed_at=now))

    def mark_expired(self, now: datetime) -> None:
        if self._move(PaymentStatus.EXPIRED, now):
            self.failure_reason = "checkout_session_expired"
            self.events.append(Failed(reason="checkout_session_expired", failed_at=now))

    def hold_for_review(self, reason: str, now: datetime) -> None:
        if self._move(PaymentStatus.HELD_FOR_REVIEW, now):
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
        self._move(PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED, now)
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
        self._move(PaymentStatus.DISPUTED, now)

    def check_refund_currency(self, currency: str) -> None:
        """A refund is recorded only in the payment's own currency."""
        if currency != self.currency:
            raise RefundCurrencyMismatch(f"refund of {self.id} in {currency}, not {self.currency}")

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.amount_refunded if self.status in PAID_STATUSES else 0

    def refund_request(self, amount: int | None, client_key: str | None) -> RefundRequest:
        """What to ask Stripe: `amount` (all that is left when None), at most what is left.

        The idempotency key is the client's when given; otherwise it is derived from what is
        already refunded and the amount asked, so a resubmitted form cannot refund twice,
        while the next refund (after the webhook recorded this one) gets a fresh key.
        """
        left = self.refundable_amount
        if self.payment_intent_id is None or left == 0:
            raise NotRefundable(f"Payment {self.id} is {self.status}: none to refund.")
        if amount is not None and amount > left:
            raise NotRefundable(f"At most {left} can still be refunded on payment {self.id}.")
        asked = left if amount is None else amount
        key = (
            f"skileez-refund-{self.id}-{client_key}"
            if client_key
            else f"skileez-refund-{self.id}-{self.amount_refunded}-{asked}"
        )
        return RefundRequest(self.payment_intent_id, asked, key)

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
