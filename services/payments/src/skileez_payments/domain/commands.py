"""What the HTTP side asks of payments, where a handler takes more than an id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user, and whether an admin (who sees every contract)."""

    user_id: str
    admin: bool


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
    payment_id: uuid.UUID
    amount: int | None
    reason: str | None
    client_key: str | None
