"""What happened to a contract, as the aggregate records it (mapped to integration events later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ContractCreated:
    created_at: datetime


@dataclass(frozen=True)
class ContractActivated:
    payment_id: uuid.UUID
    activated_at: datetime


@dataclass(frozen=True)
class ContractPaymentFailed:
    payment_id: uuid.UUID
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class ContractRefunded:
    payment_id: uuid.UUID
    refund_amount: int
    total_refunded: int
    fully_refunded: bool
    refunded_at: datetime


@dataclass(frozen=True)
class ContractCancelled:
    reason: str
    cancelled_at: datetime


DomainEvent = (
    ContractCreated
    | ContractActivated
    | ContractPaymentFailed
    | ContractRefunded
    | ContractCancelled
)
