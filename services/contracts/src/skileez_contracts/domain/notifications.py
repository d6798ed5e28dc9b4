"""The messages the parties get about their contracts: the coach about its payments, both of
them when one side (or an admin) ended it early, with what goes back to the student."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skileez_contracts.domain import events
from skileez_contracts.domain.cancellation import Canceller
from skileez_contracts.domain.contract import Contract
from skileez_web.money import format_amount


class NotificationKind(StrEnum):
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_REFUNDED = "payment_refunded"
    PAYMENT_DISPUTED = "payment_disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    CONTRACT_CANCELLED = "contract_cancelled"


@dataclass(frozen=True)
class Notification:
    id: uuid.UUID
    recipient_id: str
    contract_id: uuid.UUID
    kind: NotificationKind
    message: str
    amount: int | None
    currency: str
    created_at: datetime
    read_at: datetime | None = None
    """When the recipient first saw it on their notifications page; None while unread."""


def contract_notifications(
    contract: Contract, recorded: list[events.DomainEvent], now: datetime
) -> list[Notification]:
    """What the parties are told about the events the contract just recorded."""
    told: list[Notification] = []
    for event in recorded:
        if (notification := coach_notification(contract, event, now)) is not None:
            told.append(notification)
        told += cancellation_notifications(contract, event, now)
    return told


def cancellation_notifications(
    contract: Contract, event: events.DomainEvent, now: datetime
) -> list[Notification]:
    """A person ended the contract: both parties learn who did, why, and what goes back to
    the student ("Ana Silva ended Interview coaching (4 sessions): €90.00 goes back to ...")."""
    if not isinstance(event, events.ContractCancelled) or event.role is Canceller.SYSTEM:
        return []
    who = {
        Canceller.STUDENT: contract.student_display,
        Canceller.COACH: contract.coach_display,
        Canceller.ADMIN: "Skileez support",
    }[event.role]
    sessions = "session" if contract.session_count == 1 else "sessions"
    refund = event.refund_amount
    back = (
        f"{format_amount(refund, contract.currency)} goes back to {contract.student_display}"
        if refund
        else "nothing is refunded"
    )
    message = (
        f"{who} ended {contract.title} ({contract.session_count} {sessions}): {back}."
        f" Reason: {event.reason}"
    )
    return [
        Notification(
            id=uuid.uuid4(),
            recipient_id=recipient,
            contract_id=contract.id,
            kind=NotificationKind.CONTRACT_CANCELLED,
            message=message,
            amount=refund,
            currency=contract.currency,
            created_at=now,
        )
        for recipient in (contract.coach_id, contract.student_id)
    ]


def coach_notification(
    contract: Contract, event: events.DomainEvent, now: datetime
) -> Notification | None:
    """What the coach is told about `event`, if it concerns a payment, in words a person
    reads: "Ana Silva paid €180.00 for Interview coaching (4 sessions)"."""
    student, currency = contract.student_display, contract.currency
    sessions = "session" if contract.session_count == 1 else "sessions"
    bought = f"{contract.title} ({contract.session_count} {sessions})"
    match event:
        case events.ContractActivated():
            kind, amount = NotificationKind.PAYMENT_RECEIVED, contract.amount
            message = f"{student} paid {format_amount(amount, currency)} for {bought}"
        case events.ContractPaymentFailed(reason=reason):
            kind, amount = NotificationKind.PAYMENT_FAILED, contract.amount
            message = (
                f"{student}'s payment of {format_amount(amount, currency)} for {bought} "
                f"failed: {reason}. They can try again."
            )
        case events.ContractRefunded(
            refund_amount=amount, total_refunded=total, fully_refunded=full
        ):
            kind = NotificationKind.PAYMENT_REFUNDED
            message = (
                f"{format_amount(amount, currency)} of {student}'s payment for {bought} was "
                f"refunded ({format_amount(total, currency)} in all, "
                f"{'the full' if full else 'part of the'} payment); "
                f"the contract is {contract.status}."
            )
        case events.ContractSuspended(disputed_amount=amount, reason=reason):
            kind = NotificationKind.PAYMENT_DISPUTED
            message = (
                f"{student} disputed {format_amount(amount, currency)} of their payment for "
                f"{bought} with their bank ({reason}). The contract is suspended: no new "
                "sessions can be booked until the dispute is closed."
            )
        case events.DisputeWon():
            kind, amount = NotificationKind.DISPUTE_WON, contract.amount
            message = (
                f"The dispute of {student}'s payment of {format_amount(amount, currency)} for "
                f"{bought} was closed in your favour: the contract is active and paid, and "
                "sessions can be booked."
            )
        case events.DisputeLost():
            kind, amount = NotificationKind.DISPUTE_LOST, contract.amount
            message = (
                f"The dispute of {student}'s payment of {format_amount(amount, currency)} for "
                f"{bought} was lost: the bank returned the money to the student, and the "
                "contract is cancelled."
            )
        case _:
            return None
    return Notification(
        id=uuid.uuid4(),
        recipient_id=contract.coach_id,
        contract_id=contract.id,
        kind=kind,
        message=message,
        amount=amount,
        currency=contract.currency,
        created_at=now,
    )
