"""What happened to a contract, as the aggregate records it (mapped to integration events later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from skileez_contracts.domain.cancellation import Canceller


@dataclass(frozen=True)
class ContractCreated:
    created_at: datetime


@dataclass(frozen=True)
class ContractActivated:
    payment_id: uuid.UUID
    activated_at: datetime


@dataclass(frozen=True)
class PaymentProcessing:
    """A delayed payment waits for the bank; stays inside the service (pages show it)."""

    payment_id: uuid.UUID
    processing_at: datetime


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
class ContractSuspended:
    """The paying payment is disputed: no new sessions until the dispute is closed."""

    dispute_id: str
    disputed_amount: int
    reason: str
    suspended_at: datetime


@dataclass(frozen=True)
class DisputeWon:
    """The dispute of the paying payment was closed in the coach's favour."""

    dispute_id: str
    closed_at: datetime


@dataclass(frozen=True)
class ContractReinstated:
    """A suspended contract whose dispute was won: active and paid again."""

    reinstated_at: datetime


@dataclass(frozen=True)
class DisputeLost:
    """The bank gave the student's money back: the contract is refunded and cancelled."""

    dispute_id: str
    closed_at: datetime


@dataclass(frozen=True)
class ContractCancelled:
    reason: str
    cancelled_at: datetime
    cancelled_by: str = "system"
    """A user id, or `system` when a payment's outcome (a full refund, a lost dispute) ended it."""
    refund_amount: int = 0
    """What payments must still refund: nothing after a full refund or a lost dispute."""
    role: Canceller = Canceller.SYSTEM
    """The side that ended it (the parties are told who did)."""


DomainEvent = (
    ContractCreated
    | ContractActivated
    | PaymentProcessing
    | ContractPaymentFailed
    | ContractRefunded
    | ContractSuspended
    | DisputeWon
    | ContractReinstated
    | DisputeLost
    | ContractCancelled
)
