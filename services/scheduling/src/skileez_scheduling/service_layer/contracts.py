"""Keeping scheduling's view of contracts current from the contracts service's events.

Events may come in any order and more than once: each handler takes the view locked (created
by the first event about the contract) and lets it move only forward; a suspension and a
reinstatement are ordered by their own times, since they may alternate. ContractActivated is on
the activation hot path: the consumer's batch has locked (or created) its view ahead and writes
the views' changes together at its commit, so it costs no statement of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractReinstated,
    ContractSuspended,
)
from skileez_scheduling.service_layer.unit_of_work import UnitOfWork


async def contract_created(event: ContractCreated, uow: UnitOfWork) -> None:
    contract = await uow.contracts.for_event(event.contract_id)
    contract.record_created(
        student_id=event.student_id,
        coach_id=event.coach_id,
        session_count=event.session_count,
        title=event.title,
        student_name=event.student_name,
        coach_name=event.coach_name,
    )
    uow.contracts.save(contract)


async def contract_activated(event: ContractActivated, uow: UnitOfWork) -> None:
    """Open the contract to bookings; keep the trace this activation is applied under."""
    contract = await uow.contracts.for_event(event.contract_id)
    contract.record_activated(
        student_id=event.student_id,
        coach_id=event.coach_id,
        session_count=event.session_count,
        traceparent=uow.traceparent,
    )
    uow.contracts.save(contract)


async def contract_suspended(event: ContractSuspended, uow: UnitOfWork) -> None:
    """Refuse new bookings from now on; the sessions already booked stay."""
    contract = await uow.contracts.for_event(event.contract_id)
    if contract.record_suspended(reason=event.reason, suspended_at=event.suspended_at):
        uow.contracts.save(contract)


async def contract_reinstated(event: ContractReinstated, uow: UnitOfWork) -> None:
    """Accept bookings again, unless a later suspension has been heard of already."""
    contract = await uow.contracts.for_event(event.contract_id)
    if contract.record_reinstated(reinstated_at=event.reinstated_at):
        uow.contracts.save(contract)


async def contract_cancelled(event: ContractCancelled, uow: UnitOfWork) -> None:
    """Close the contract and cancel, with its reason, its sessions still to come (from the
    cancellation on, and never one that has started): each publishes SessionCancelled by
    `system`. Only the first cancellation does this, so a redelivery changes nothing."""
    contract = await uow.contracts.for_event(event.contract_id)
    if not contract.record_cancelled(reason=event.reason, cancelled_at=event.cancelled_at):
        return
    uow.contracts.save(contract)
    now = datetime.now(UTC)
    upcoming = await uow.sessions.scheduled_from(event.contract_id, max(event.cancelled_at, now))
    for session in upcoming:
        session.cancel_for_closed_contract(event.reason, now)
    await uow.sessions.save_cancellations(upcoming)
