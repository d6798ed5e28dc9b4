"""A person's decision on a held payment, kept for good: who, when, which, and why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from skileez_payments.domain.payment import ReviewDecision


@dataclass(frozen=True)
class Review:
    id: uuid.UUID
    payment_id: uuid.UUID
    decision: ReviewDecision
    note: str
    reviewer: str
    reviewed_at: datetime
    stripe_refund_id: str | None = None
    """The refund a `refund` decision asked Stripe for, once Stripe answered."""
