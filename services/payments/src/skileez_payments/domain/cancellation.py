"""A contract's cancellation, as contracts publishes it: the contract can no longer be paid,
and the refund it owes goes back to the student from the payment that paid it, once.

The refund is asked of Stripe under one idempotency key per cancellation (a contract is
cancelled once), so a redelivered ContractCancelled, or a retry after a crash, refunds once. A
refund Stripe refuses (the charge is disputed, less is left than owed) or that has no payment
to come from is held for an operator, who retries it (once the dispute is closed, say) or drops
it, saying why: it is never retried blindly, nor lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skileez_payments.domain.errors import NotHeldForReview
from skileez_payments.domain.payment import Payment, RefundRequest


class CancellationRefundStatus(StrEnum):
    NONE = "none"
    """Nothing is owed back (a withdrawal, every session delivered, refunded already)."""
    ASKED = "asked"
    """Stripe took the refund: PaymentRefunded follows its charge.refunded webhook."""
    HELD = "held"
    """Stripe refused, or no payment can give it back: an operator decides."""
    DROPPED = "dropped"
    """An operator decided nothing more goes back (e.g. the bank returned it in a dispute)."""


class RefundDecision(StrEnum):
    RETRY = "retry"
    DROP = "drop"


@dataclass
class ContractCancellation:
    contract_id: uuid.UUID
    cancelled_at: datetime
    cancelled_by: str
    reason: str
    refund_amount: int
    received_at: datetime
    refund_status: CancellationRefundStatus = CancellationRefundStatus.NONE
    payment_id: uuid.UUID | None = None
    """The payment the refund comes from."""
    stripe_refund_id: str | None = None
    held_reason: str | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    decided_at: datetime | None = None

    @property
    def stripe_idempotency_key(self) -> str:
        """One per cancellation, and one per operator's retry (a retry is a new request)."""
        key = f"skileez-cancellation-{self.contract_id}"
        if self.decided_at is None:
            return key
        return f"{key}-retry-{int(self.decided_at.timestamp() * 1_000_000)}"

    @property
    def is_held(self) -> bool:
        return self.refund_status is CancellationRefundStatus.HELD

    def refund_from(self, paid: Payment | None) -> RefundRequest | None:
        """The refund to ask of Stripe from the payment that paid the contract; None when
        nothing is owed, or when there is no such payment (then held for an operator)."""
        if self.refund_amount == 0:
            return None
        if paid is None or paid.payment_intent_id is None:
            self.hold("no paid payment of the contract to refund it from")
            return None
        self.payment_id = paid.id
        key = self.stripe_idempotency_key
        return RefundRequest(paid.payment_intent_id, self.refund_amount, key)

    def refunded(self, stripe_refund_id: str) -> None:
        self.refund_status = CancellationRefundStatus.ASKED
        self.stripe_refund_id = stripe_refund_id
        self.held_reason = None

    def hold(self, reason: str) -> None:
        self.refund_status = CancellationRefundStatus.HELD
        self.held_reason = reason

    def decide(self, decision: RefundDecision, note: str, by: str, now: datetime) -> None:
        """An operator's decision on a held refund, kept with who took it, when and why; a
        retry goes through `refund_from` again."""
        if not self.is_held:
            raise NotHeldForReview(
                f"The refund of the cancellation of contract {self.contract_id} is"
                f" {self.refund_status}, not held."
            )
        self.decided_by, self.decision_note, self.decided_at = by, note, now
        if decision is RefundDecision.DROP:
            self.refund_status = CancellationRefundStatus.DROPPED
