"""An admin's refund, kept under the client's Idempotency-Key: asked of Stripe once, answered
the same to every retry of the same request, refused to another request under that key."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from skileez_payments.domain.errors import IdempotencyKeyReused


def fingerprint_of(payment_id: uuid.UUID, amount: int | None, reason: str | None) -> str:
    """What makes two requests the same request: the payment and the body's meaning."""
    canonical = json.dumps([str(payment_id), amount, reason], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class AdminRefund:
    idempotency_key: str
    payment_id: uuid.UUID
    fingerprint: str
    amount: int
    """What the request resolved to when first accepted ("all that is left" then): a retry
    asks Stripe the same, whatever was refunded since."""
    reason: str | None
    stripe_idempotency_key: str
    created_at: datetime
    stripe_refund_id: str | None = None
    refund_amount: int | None = None
    refund_status: str | None = None
    answered_at: datetime | None = None

    def check_same_request(self, fingerprint: str) -> None:
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {self.idempotency_key!r} was first sent with another request;"
                " use a new key for a new refund."
            )

    @property
    def answered(self) -> bool:
        return self.stripe_refund_id is not None

    def answer(self, stripe_refund_id: str, amount: int, status: str, now: datetime) -> None:
        """Stripe's answer, kept for every retry (the first one only)."""
        if not self.answered:
            self.stripe_refund_id = stripe_refund_id
            self.refund_amount = amount
            self.refund_status = status
            self.answered_at = now
