"""The read model's projection: what each event of each producer changes in it.

Every handler merges facts (`skileez_backoffice.domain.facts`), so a repeat or any order of
arrival gives the same rows; `rebuild` replays the archive through these same handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from skileez_backoffice.domain.payments import PaymentView, TimelineEntry, TimelineState
from skileez_backoffice.domain.records import (
    DisputeClosed,
    DisputeOpened,
    Hold,
    Refund,
    SessionChange,
)
from skileez_backoffice.service_layer.unit_of_work import UnitOfWork
from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractPaymentFailed,
    ContractReinstated,
    ContractSuspended,
    EventData,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentHeld,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    SessionBooked,
    SessionCancelled,
)
from skileez_web.money import format_amount


async def contract_created(event: ContractCreated, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.created(
        proposal_id=event.proposal_id,
        student_id=event.student_id,
        student_name=event.student_name,
        coach_id=event.coach_id,
        coach_name=event.coach_name,
        title=event.title,
        session_count=event.session_count,
        amount=event.amount,
        currency=event.currency,
        created_at=event.created_at,
    )
    await uow.contracts.save(contract)


async def contract_activated(event: ContractActivated, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.activated(
        student_id=event.student_id,
        coach_id=event.coach_id,
        session_count=event.session_count,
        amount=event.amount,
        currency=event.currency,
        payment_id=event.payment_id,
        activated_at=event.activated_at,
    )
    await uow.contracts.save(contract)


async def contract_payment_failed(event: ContractPaymentFailed, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.payment_failed(event.reason, event.failed_at)
    await uow.contracts.save(contract)


async def contract_suspended(event: ContractSuspended, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.suspended(event.reason, event.suspended_at)
    await uow.contracts.save(contract)


async def contract_reinstated(event: ContractReinstated, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.reinstated(event.reinstated_at)
    await uow.contracts.save(contract)


async def contract_cancelled(event: ContractCancelled, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.cancelled(event.reason, event.cancelled_by, event.refund_amount, event.cancelled_at)
    await uow.contracts.save(contract)


async def _payment(
    uow: UnitOfWork,
    payment_id: UUID,
    contract_id: UUID,
    at: datetime,
    state: TimelineState,
    detail: str,
    change: Callable[[PaymentView], None],
) -> None:
    """Apply `change` to the payment and add the event to its timeline."""
    payment = await uow.payments.for_event(payment_id, contract_id, at)
    change(payment)
    await uow.payments.save(payment)
    envelope = uow.event
    await uow.facts.timeline(
        TimelineEntry(
            event_id=envelope.id,
            payment_id=payment_id,
            state=state,
            at=at,
            event_type=envelope.type,
            detail=detail,
            correlation_id=envelope.correlationid,
            causation_id=envelope.causationid,
        )
    )


async def payment_processing(event: PaymentProcessing, uow: UnitOfWork) -> None:
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.processing_at,
        TimelineState.PROCESSING,
        f"{format_amount(event.amount, event.currency)} authorised, waiting for the bank"
        f" (Checkout Session {event.stripe_checkout_session_id})",
        lambda payment: payment.processing(
            event.amount, event.currency, event.stripe_checkout_session_id, event.processing_at
        ),
    )


async def payment_succeeded(event: PaymentSucceeded, uow: UnitOfWork) -> None:
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.paid_at,
        TimelineState.SUCCEEDED,
        f"{format_amount(event.amount, event.currency)} paid (PaymentIntent"
        f" {event.stripe_payment_intent_id}, Checkout Session {event.stripe_checkout_session_id})",
        lambda payment: payment.succeeded(
            event.amount,
            event.currency,
            event.stripe_checkout_session_id,
            event.stripe_payment_intent_id,
            event.paid_at,
        ),
    )


async def payment_failed(event: PaymentFailed, uow: UnitOfWork) -> None:
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.failed_at,
        TimelineState.FAILED,
        event.reason,
        lambda payment: payment.failed(
            event.reason, event.stripe_checkout_session_id, event.failed_at
        ),
    )


async def payment_held(event: PaymentHeld, uow: UnitOfWork) -> None:
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.held_at,
        TimelineState.HELD_FOR_REVIEW,
        f"{format_amount(event.amount, event.currency)} charged: {event.reason}",
        lambda payment: payment.held(event.amount, event.currency, event.reason, event.held_at),
    )
    await uow.facts.hold(
        Hold(
            event.payment_id,
            event.contract_id,
            event.amount,
            event.currency,
            event.reason,
            event.held_at,
        )
    )


async def payment_refunded(event: PaymentRefunded, uow: UnitOfWork) -> None:
    state = TimelineState.REFUNDED if event.fully_refunded else TimelineState.PARTIALLY_REFUNDED
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.refunded_at,
        state,
        f"{format_amount(event.refund_amount, event.currency)} refunded"
        f" ({format_amount(event.total_refunded, event.currency)} in all;"
        f" Stripe refund {event.stripe_refund_id})",
        lambda payment: payment.refunded(
            event.total_refunded, event.fully_refunded, event.refunded_at
        ),
    )
    await uow.facts.refund(
        Refund(
            event.stripe_refund_id,
            event.payment_id,
            event.contract_id,
            event.refund_amount,
            event.total_refunded,
            event.currency,
            event.fully_refunded,
            event.refunded_at,
        )
    )


async def payment_disputed(event: PaymentDisputed, uow: UnitOfWork) -> None:
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.disputed_at,
        TimelineState.DISPUTED,
        f"{format_amount(event.amount, event.currency)} disputed: {event.reason}"
        f" (Stripe dispute {event.stripe_dispute_id})",
        lambda payment: payment.disputed(event.disputed_at),
    )
    await uow.facts.dispute_opened(
        DisputeOpened(
            event.stripe_dispute_id,
            event.payment_id,
            event.contract_id,
            event.amount,
            event.currency,
            event.reason,
            event.disputed_at,
        )
    )


async def payment_dispute_closed(event: PaymentDisputeClosed, uow: UnitOfWork) -> None:
    won = event.outcome == "won"
    await _payment(
        uow,
        event.payment_id,
        event.contract_id,
        event.closed_at,
        TimelineState.DISPUTE_WON if won else TimelineState.DISPUTE_LOST,
        f"Stripe dispute {event.stripe_dispute_id} {event.outcome}",
        lambda payment: payment.dispute_closed(event.outcome, event.closed_at),
    )
    await uow.facts.dispute_closed(
        DisputeClosed(
            event.stripe_dispute_id,
            event.payment_id,
            event.contract_id,
            event.outcome,
            event.closed_at,
        )
    )


def _session(event: SessionBooked | SessionCancelled) -> SessionChange:
    return SessionChange(
        event.session_id,
        event.contract_id,
        event.starts_at,
        event.duration_minutes,
        event.by,
        event.at,
    )


async def session_booked(event: SessionBooked, uow: UnitOfWork) -> None:
    await uow.facts.session_booked(_session(event))


async def session_cancelled(event: SessionCancelled, uow: UnitOfWork) -> None:
    await uow.facts.session_cancelled(_session(event))


PROJECTIONS: dict[type[EventData], Callable[[Any, UnitOfWork], Awaitable[None]]] = {
    ContractCreated: contract_created,
    ContractActivated: contract_activated,
    ContractPaymentFailed: contract_payment_failed,
    ContractSuspended: contract_suspended,
    ContractReinstated: contract_reinstated,
    ContractCancelled: contract_cancelled,
    PaymentProcessing: payment_processing,
    PaymentSucceeded: payment_succeeded,
    PaymentFailed: payment_failed,
    PaymentHeld: payment_held,
    PaymentRefunded: payment_refunded,
    PaymentDisputed: payment_disputed,
    PaymentDisputeClosed: payment_dispute_closed,
    SessionBooked: session_booked,
    SessionCancelled: session_cancelled,
}
"""Each event type's projection (the subscriptions and `rebuild` both route through it)."""


async def project(data: EventData, uow: UnitOfWork) -> None:
    """Apply the event's projection. A type no projection reads yet (one added to the
    catalogue after this code) is only archived: `rebuild` projects it once one does."""
    projection = PROJECTIONS.get(type(data))
    if projection is not None:
        await projection(data, uow)


async def receive(data: EventData, uow: UnitOfWork) -> None:
    """A live event: archived as received, then projected, in the inbox's transaction."""
    await uow.archive.add(uow.event)
    await project(data, uow)
