"""What the HTTP API takes and gives (also the `/openapi.json` components)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skileez_payments.domain.payment import Payment, PaymentStatus


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
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls.model_validate(payment, from_attributes=True)


class PaymentsOut(BaseModel):
    payments: list[PaymentOut]


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


class PaymentSuccessQuery(BaseModel):
    session_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$")


class WebhookOut(BaseModel):
    received: bool
    outcome: str
