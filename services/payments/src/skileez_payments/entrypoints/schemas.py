"""What the HTTP API takes and gives (also the `/openapi.json` components)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skileez_payments.domain.cancellation import (
    CancellationRefundStatus,
    ContractCancellation,
    RefundDecision,
)
from skileez_payments.domain.payment import DisputeOutcome, Payment, PaymentStatus, ReviewDecision
from skileez_payments.domain.review import Review
from skileez_payments.service_layer.unit_of_work import UnappliedStripeEvent
from skileez_web.pagination import PageQuery


class CheckoutOut(BaseModel):
    payment_id: uuid.UUID
    checkout_session_id: str
    checkout_url: str
    expires_at: datetime


class PaymentOut(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    status: PaymentStatus
    amount: int
    currency: str
    amount_refunded: int
    checkout_session_id: str | None
    payment_intent_id: str | None
    correlation_id: str
    expires_at: datetime
    paid_at: datetime | None
    failure_reason: str | None
    review_reason: str | None
    charged_amount: int | None
    charged_currency: str | None
    stripe_dispute_id: str | None
    dispute_outcome: DisputeOutcome | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls.model_validate(payment, from_attributes=True)


class PaymentsOut(BaseModel):
    payments: list[PaymentOut]


class PaymentsQuery(PageQuery):
    status: PaymentStatus | None = None


class PaymentsPageOut(BaseModel):
    payments: list[PaymentOut]
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last page")


IDEMPOTENCY_KEY_LENGTH = 200


class RefundHeaders(BaseModel):
    """The refund route's header (checked by the route: missing is 400, as Stripe answers)."""

    idempotency_key: str = Field(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_LENGTH,
        description="a new key per refund, the same one when retrying it",
    )


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(
        default=None, gt=0, le=99_999_999_999, description="minor units; all that is left if absent"
    )
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


class RefundOut(BaseModel):
    payment_id: uuid.UUID
    stripe_refund_id: str
    amount: int
    currency: str
    status: str


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision = Field(
        description="approve: the payment pays its contract; refund: its whole charge goes back"
    )
    note: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="why")


class ReviewOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    decision: ReviewDecision
    note: str
    reviewer: str
    reviewed_at: datetime
    stripe_refund_id: str | None

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls.model_validate(review, from_attributes=True)


class ReviewedOut(BaseModel):
    review: ReviewOut
    payment: PaymentOut


class ReviewsOut(BaseModel):
    reviews: list[ReviewOut]


class UnmatchedEventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=500)


class UnmatchedEventOut(BaseModel):
    """A Stripe event recorded and applied to no payment, with why (`outcome`)."""

    id: str
    type: str
    livemode: bool
    created: datetime
    received_at: datetime
    source: str
    outcome: str
    payment_intent: str | None

    @classmethod
    def of(cls, event: UnappliedStripeEvent) -> UnmatchedEventOut:
        return cls.model_validate(event, from_attributes=True)


class UnmatchedEventsOut(BaseModel):
    events: list[UnmatchedEventOut]


class PaymentPageQuery(BaseModel):
    waiting_since: int | None = Field(
        default=None,
        ge=0,
        le=4_102_444_800,  # 2100-01-01
        description="Unix time the page was first asked for while its contract was not known yet"
        " (set by the page's own refresh)",
    )

    @property
    def first_asked(self) -> datetime | None:
        if self.waiting_since is None:
            return None
        return datetime.fromtimestamp(self.waiting_since, UTC)


class PaymentSuccessQuery(BaseModel):
    session_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$")


class WebhookOut(BaseModel):
    received: bool
    outcome: str


class CancellationOut(BaseModel):
    """A contract's cancellation as payments took it, and where its refund stands: `none`
    (nothing owed), `asked` (Stripe took it; the payment shows it once Stripe confirms), `held`
    (Stripe refused, `held_reason` says why: an operator decides), `dropped` (an operator
    decided nothing more goes back)."""

    contract_id: uuid.UUID
    cancelled_at: datetime
    cancelled_by: str
    reason: str
    refund_amount: int
    refund_status: CancellationRefundStatus
    payment_id: uuid.UUID | None
    stripe_refund_id: str | None
    held_reason: str | None
    decided_by: str | None
    decision_note: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, cancellation: ContractCancellation) -> CancellationOut:
        return cls.model_validate(cancellation, from_attributes=True)


class CancellationsOut(BaseModel):
    cancellations: list[CancellationOut]


class HeldRefundsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=500)


class RefundDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: RefundDecision = Field(
        description="retry: ask Stripe again (a new request); drop: nothing more goes back"
    )
    note: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="why")
