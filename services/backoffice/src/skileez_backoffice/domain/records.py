"""The facts kept as they were told: refunds, disputes, holds and sessions. Each is stored under
its own id and merged field by field, so repeats and any order give the same row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Refund:
    stripe_refund_id: str
    payment_id: UUID
    contract_id: UUID
    amount: int
    total_refunded: int
    currency: str
    fully_refunded: bool
    refunded_at: datetime


@dataclass(frozen=True)
class DisputeOpened:
    stripe_dispute_id: str
    payment_id: UUID
    contract_id: UUID
    amount: int
    currency: str
    reason: str
    opened_at: datetime


@dataclass(frozen=True)
class DisputeClosed:
    stripe_dispute_id: str
    payment_id: UUID
    contract_id: UUID
    outcome: str
    closed_at: datetime


@dataclass(frozen=True)
class Hold:
    payment_id: UUID
    contract_id: UUID
    amount: int
    currency: str
    reason: str
    held_at: datetime


@dataclass(frozen=True)
class SessionChange:
    """A session booked or cancelled, by whom and when."""

    session_id: UUID
    contract_id: UUID
    starts_at: datetime
    duration_minutes: int
    by: str
    at: datetime
