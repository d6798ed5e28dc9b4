"""What the HTTP side asks of payments, where a handler takes more than an id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from skileez_payments.domain.payment import PaymentStatus, ReviewDecision


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user, and whether an admin (who sees every contract)."""

    user_id: str
    admin: bool


@dataclass(frozen=True)
class OpenPaymentPage:
    """A pay page asked for; `first_asked` is when it was first, if it waited for its contract."""

    contract_id: uuid.UUID
    viewer: Viewer
    first_asked: datetime | None


@dataclass(frozen=True)
class StartCheckout:
    contract_id: uuid.UUID
    user_id: str
    correlation_id: str


@dataclass(frozen=True)
class ConfirmCheckout:
    """The customer is back from Checkout with this session."""

    contract_id: uuid.UUID
    session_id: str
    viewer: Viewer


@dataclass(frozen=True)
class RequestRefund:
    """An admin's refund; `client_key` is the request's Idempotency-Key."""

    payment_id: uuid.UUID
    amount: int | None
    reason: str | None
    client_key: str


@dataclass(frozen=True)
class ReviewPayment:
    """A person's decision on a held payment: who decided, and why."""

    payment_id: uuid.UUID
    decision: ReviewDecision
    note: str
    reviewer: str


@dataclass(frozen=True)
class ListPayments:
    """An operator's page of payments, newest first: those of `status` (any if None), after
    the payment `after` (created_at, id) of the page before."""

    status: PaymentStatus | None
    after: tuple[datetime, uuid.UUID] | None
    limit: int
