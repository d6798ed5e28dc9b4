"""The Payment aggregate: one Checkout attempt for a contract, and its guarded transitions.

State only moves forward: a late or replayed Stripe event that would move it back is a no-op.
Each transition that the rest of the system must learn records a domain event in `events`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from skileez_payments.domain.errors import (
    CannotApprove,
    NotHeldForReview,
    NotRefundable,
    PaymentNotReady,
    RefundCurrencyMismatch,
)


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
"""Money was captured: the contract is paid, whatever happened to it afterwards (once the
attempt succeeded: see `Payment.is_paid`)."""

CHARGED_STATUSES = PAID_STATUSES | {PaymentStatus.HELD_FOR_REVIEW}
"""Stripe took the attempt's money: its refunds and disputes apply to it, held or not."""

REFUNDABLE_STATUSES = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED})
"""An admin's refund applies to these; a held payment is refunded by its review, and Stripe
refuses to refund a disputed charge."""

SETTLING_STATUSES = frozenset({PaymentStatus.PROCESSING, PaymentStatus.HELD_FOR_REVIEW})
"""The customer finished checkout; a new attempt must not be started meanwhile."""

ASYNC_PAYMENT_FAILED = "async_payment_failed"
"""How the failure of a delayed payment (one that was processing) begins: its Checkout Session
is complete, and Stripe takes no more money in it."""

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
    # A closed dispute puts the payment back where it was (won) or refunded (lost).
    PaymentStatus.DISPUTED: frozenset(
        {
            PaymentStatus.SUCCEEDED,
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentStatus.REFUNDED,
            PaymentStatus.HELD_FOR_REVIEW,
        }
    ),
    # Stripe never takes money on an expired session; if it ever says so, a person looks.
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.HELD_FOR_REVIEW}),
    # Approved by a person, refunded whole (by review or at Stripe), or disputed meanwhile.
    PaymentStatus.HELD_FOR_REVIEW: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}
    ),
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


@dataclass(frozen=True)
class Processing:
    processing_at: datetime


@dataclass(frozen=True)
class Held:
    reason: str
    held_at: datetime


@dataclass(frozen=True)
class Disputed:
    stripe_dispute_id: str
    amount: int
    currency: str
    reason: str
    disputed_at: datetime


@dataclass(frozen=True)
class DisputeClosed:
    stripe_dispute_id: str
    outcome: DisputeOutcome
    closed_at: datetime


DomainEvent = Succeeded | Processing | Failed | Refunded | Held | Disputed | DisputeClosed


class DisputeOutcome(StrEnum):
    WON = "won"
    LOST = "lost"


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REFUND = "refund"


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
    amount: int | None
    """None: all that is left of the charge at Stripe."""
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
    charged_amount: int | None = None
    """What Stripe says it charged (amount, currency, mode), recorded when Checkout reports it."""
    charged_currency: str | None = None
    charged_livemode: bool | None = None
    refund_decided: bool = False
    """A review decided to send a held payment's money back: it can no longer be approved."""
    stripe_dispute_id: str | None = None
    dispute_outcome: DisputeOutcome | None = None
    events: list[DomainEvent] = field(default_factory=list, compare=False)
    transitions: list[PaymentStatus] = field(default_factory=list, compare=False)
    changed: bool = field(default=False, compare=False)

    def is_reusable(self, now: datetime, margin_seconds: float) -> bool:
        """An attempt whose Checkout page the customer can still use, for a while yet.

        A declined card leaves the session open too: offering that same page again, rather
        than a second session, is what keeps one contract from being paid twice.
        """
        return self.offers_session and (self.expires_at - now).total_seconds() > margin_seconds

    @property
    def offers_session(self) -> bool:
        """Its Checkout Session may still take money: open, or failed by a declined card;
        not once a delayed payment failed (Stripe completed that session)."""
        if self.checkout_session_id is None or self.checkout_url is None:
            return False
        if self.status is PaymentStatus.FAILED:
            return not self.failed_asynchronously
        return self.status is PaymentStatus.OPEN

    @property
    def failed_asynchronously(self) -> bool:
        """A delayed payment failed: its Checkout Session is complete, with no money, for good."""
        return self.status is PaymentStatus.FAILED and (self.failure_reason or "").startswith(
            ASYNC_PAYMENT_FAILED
        )

    @property
    def is_paid(self) -> bool:
        """This attempt paid the contract: it succeeded (a held one never did, even refunded)."""
        return self.status in PAID_STATUSES and self.paid_at is not None

    @property
    def has_charge(self) -> bool:
        """Stripe took this attempt's money (or did and gave it back)."""
        return self.status in CHARGED_STATUSES

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
        contract_cancelled: bool = False,
    ) -> None:
        """Move to what the Checkout Session says. A contract is paid once: an attempt paid
        while another (`contract_paid_by`) already took the money, or once the contract was
        cancelled, is held for review (a person refunds it)."""
        match outcome:
            case SessionOutcome.FAILED:
                self.mark_failed("async_payment_failed", now)
            case SessionOutcome.EXPIRED:
                self.mark_expired(now)
            case SessionOutcome.PAID if contract_paid_by is not None:
                if not self.has_charge:  # a replay never undoes a review or a dispute
                    self._record_charge(charge)
                    self.hold_for_review(
                        f"contract already paid by payment {contract_paid_by}", now
                    )
            case SessionOutcome.PAID if contract_cancelled:
                if not self.has_charge:
                    self._record_charge(charge)
                    self.hold_for_review("paid after the contract was cancelled", now)
            case SessionOutcome.PAID:
                self.mark_payment_paid(charge, expected_livemode, now)
            case SessionOutcome.AWAITING_PAYMENT:
                self.mark_processing(charge, expected_livemode, now)
            case SessionOutcome.OPEN:
                pass

    def mark_payment_paid(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout reports the money captured: succeed, or hold if it is not what we asked.
        Once Stripe's money is ours (paid, held, refunded, disputed), a replay changes nothing:
        only a person's review releases a hold, only its closing ends a dispute."""
        if self.has_charge:
            return
        self._record_charge(charge)
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        elif self.status is PaymentStatus.EXPIRED:
            self.hold_for_review("paid after the checkout session expired", now)
        elif self._move(PaymentStatus.SUCCEEDED, now):
            self.paid_at = now
            self.events.append(Succeeded(paid_at=now))

    def mark_processing(self, charge: Charge, expected_livemode: bool, now: datetime) -> None:
        """Checkout completed with a delayed payment method: wait for the async outcome (a
        replay once the money is ours, or news of the completion after that of its failure,
        changes nothing)."""
        if self.has_charge or self.failed_asynchronously:
            return
        self._record_charge(charge)
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            self.hold_for_review(mismatch, now)
        elif self._move(PaymentStatus.PROCESSING, now):
            self.events.append(Processing(processing_at=now))

    def mark_failed(self, reason: str, now: datetime) -> None:
        """A processing payment that fails is a delayed payment failing: its reason says so."""
        if self.status is PaymentStatus.PROCESSING and not reason.startswith(ASYNC_PAYMENT_FAILED):
            reason = f"{ASYNC_PAYMENT_FAILED}: {reason}"
        if self._move(PaymentStatus.FAILED, now):
            self.failure_reason = reason
            self.events.append(Failed(reason=reason, failed_at=now))

    def mark_expired(self, now: datetime) -> None:
        if self._move(PaymentStatus.EXPIRED, now):
            self.failure_reason = "checkout_session_expired"
            self.events.append(Failed(reason="checkout_session_expired", failed_at=now))

    def abandon_session(self, reason: str, now: datetime) -> None:
        """Stripe takes no money in this attempt's session (it no longer knows it, or it
        completed after the attempt failed): the attempt ends, with no event, since a new one
        takes over; money Stripe ever reports on it is held for review."""
        closable = self.status in (PaymentStatus.OPEN, PaymentStatus.FAILED)
        if closable and self._move(PaymentStatus.EXPIRED, now):
            self.failure_reason = reason

    def hold_for_review(self, reason: str, now: datetime) -> None:
        """Money arrived that a person must look at before it counts (PaymentHeld)."""
        if self._move(PaymentStatus.HELD_FOR_REVIEW, now):
            self.review_reason = reason
            self.events.append(Held(reason=reason, held_at=now))

    def approve(
        self,
        expected_livemode: bool,
        now: datetime,
        *,
        contract_paid_by: uuid.UUID | None,
        contract_cancelled: bool = False,
    ) -> None:
        """A person accepts a held payment: it pays the contract. Refused when the contract is
        paid by another attempt or cancelled, or when Stripe charged other money (amount,
        currency, mode) than the contract asks: that one can only be refunded."""
        self._check_held()
        if self.refund_decided:
            raise CannotApprove(f"A refund of payment {self.id} was decided already.")
        if contract_cancelled:
            raise CannotApprove("The contract was cancelled: refund the payment instead.")
        if contract_paid_by is not None:
            raise CannotApprove(f"The contract is already paid by payment {contract_paid_by}.")
        if self.amount_refunded:
            raise CannotApprove(f"Part of payment {self.id} was refunded already: refund the rest.")
        if self.charged_amount is None or self.charged_livemode is None:
            raise CannotApprove(f"What Stripe charged for payment {self.id} is not recorded.")
        charge = Charge(self.charged_amount, self.charged_currency, self.charged_livemode)
        if (mismatch := self._mismatch(charge, expected_livemode)) is not None:
            raise CannotApprove(f"Stripe {mismatch}: refund it instead.")
        self._move(PaymentStatus.SUCCEEDED, now)
        self.paid_at = now
        self.events.append(Succeeded(paid_at=now))

    def decide_refund(self) -> RefundRequest:
        """A person sends a held payment's money back: the whole charge, under one Stripe
        idempotency key however often it is asked. The payment is `refunded` when Stripe
        reports the refund."""
        self._check_held()
        if self.payment_intent_id is None:
            raise NotRefundable(f"Payment {self.id} has no PaymentIntent to refund.")
        if not self.refund_decided:
            self.refund_decided = True
            self.changed = True
        return RefundRequest(self.payment_intent_id, None, f"skileez-review-refund-{self.id}")

    def open_dispute(
        self, stripe_dispute_id: str, amount: int, currency: str, reason: str, now: datetime
    ) -> None:
        """A chargeback: the money is withdrawn until the dispute closes (PaymentDisputed).
        A charge has one dispute: once it closed, a late report of its opening changes nothing."""
        self._check_charged()
        if self.dispute_outcome is not None:
            return
        if self._move(PaymentStatus.DISPUTED, now):
            self.stripe_dispute_id = stripe_dispute_id
            self.events.append(Disputed(stripe_dispute_id, amount, currency, reason, now))

    def close_dispute(self, stripe_dispute_id: str, outcome: DisputeOutcome, now: datetime) -> None:
        """The card network decided (PaymentDisputeClosed), once. Won: the payment is back where
        it was. Lost: the money went back to the customer, so the payment reads `refunded`
        (with `amount_refunded` still what was refunded through Stripe's refunds, and
        `dispute_outcome` lost), and nothing more can be refunded."""
        self._check_charged()
        if self.dispute_outcome is not None:
            return
        self.stripe_dispute_id = stripe_dispute_id
        self.dispute_outcome = outcome
        self.changed = True
        after = self._after_dispute() if outcome is DisputeOutcome.WON else PaymentStatus.REFUNDED
        if self.status is PaymentStatus.DISPUTED or outcome is DisputeOutcome.LOST:
            self._move(after, now)
        self.events.append(DisputeClosed(stripe_dispute_id, outcome, now))

    def record_refunds(self, total_refunded: int, stripe_refund_id: str, now: datetime) -> None:
        """Stripe's cumulative refunded total; an older, smaller total changes nothing.
        A held payment refunded whole is `refunded` (partly, it stays held: a person decides
        the rest); a disputed one keeps its status until the dispute closes."""
        self._check_charged()
        if total_refunded <= self.amount_refunded:
            return
        fully = total_refunded >= self._charged_total
        refund_amount = total_refunded - self.amount_refunded
        self.amount_refunded = total_refunded
        self.changed = True
        if self.status in REFUNDABLE_STATUSES:
            self._move(PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED, now)
        elif self.status is PaymentStatus.HELD_FOR_REVIEW and fully:
            self._move(PaymentStatus.REFUNDED, now)
        self.events.append(
            Refunded(
                refund_amount=refund_amount,
                total_refunded=total_refunded,
                fully_refunded=fully,
                stripe_refund_id=stripe_refund_id,
                refunded_at=now,
            )
        )

    def check_refund_currency(self, currency: str) -> None:
        """A refund is recorded only in the currency Stripe charged."""
        charged = self.charged_currency or self.currency
        if currency != charged:
            raise RefundCurrencyMismatch(f"refund of {self.id} in {currency}, not {charged}")

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.amount_refunded if self.status in REFUNDABLE_STATUSES else 0

    def refund_request(self, amount: int | None, client_key: str) -> RefundRequest:
        """What to ask Stripe for an admin's refund: `amount` (all that is left when None), at
        most what is left. The Stripe idempotency key derives from the client's key alone, so
        a retry asks the same refund whenever the first one's webhook lands."""
        if self.status is PaymentStatus.HELD_FOR_REVIEW:
            raise NotRefundable(
                f"Payment {self.id} is held for review: decide it with POST /payments/{self.id}/"
                "review (refund sends the whole charge back)."
            )
        left = self.refundable_amount
        if self.payment_intent_id is None or left == 0:
            raise NotRefundable(f"Payment {self.id} is {self.status}: none to refund.")
        if amount is not None and amount > left:
            raise NotRefundable(f"At most {left} can still be refunded on payment {self.id}.")
        asked = left if amount is None else amount
        key = f"skileez-refund-{self.id}-{client_key}"
        return RefundRequest(self.payment_intent_id, asked, key)

    @property
    def _charged_total(self) -> int:
        return self.amount if self.charged_amount is None else self.charged_amount

    def _after_dispute(self) -> PaymentStatus:
        """Where a won dispute puts the payment back: as its refunds and its review left it."""
        if self.amount_refunded >= self._charged_total:
            return PaymentStatus.REFUNDED
        if self.paid_at is None:
            return PaymentStatus.HELD_FOR_REVIEW
        if self.amount_refunded:
            return PaymentStatus.PARTIALLY_REFUNDED
        return PaymentStatus.SUCCEEDED

    def _check_held(self) -> None:
        if self.status is not PaymentStatus.HELD_FOR_REVIEW:
            raise NotHeldForReview(f"Payment {self.id} is {self.status}, not held for review.")

    def _check_charged(self) -> None:
        if self.status not in CHARGED_STATUSES:
            raise PaymentNotReady(f"payment {self.id} is {self.status}, not paid yet")

    def _record_charge(self, charge: Charge) -> None:
        """What Stripe charged, as it was when the money arrived (a held one's review judges it)."""
        if self.has_charge:
            return
        facts = (charge.amount, charge.currency, charge.livemode)
        if facts != (self.charged_amount, self.charged_currency, self.charged_livemode):
            self.charged_amount, self.charged_currency, self.charged_livemode = facts
            self.changed = True

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
