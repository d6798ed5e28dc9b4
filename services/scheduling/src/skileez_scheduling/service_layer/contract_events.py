"""Keeping scheduling's view of contracts current from the contracts service's events.

Each handler runs in the consumer's transaction, which also records the event in the inbox.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events import ContractActivated, ContractCancelled, ContractCreated, Incoming
from skileez_scheduling.adapters.repository import SchedulingRepository


async def contract_created(event: Incoming[ContractCreated], db: AsyncSession) -> None:
    repo = SchedulingRepository(db)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    contract.record_created(
        student_id=data.student_id,
        coach_id=data.coach_id,
        session_count=data.session_count,
        title=data.title,
    )
    await repo.save_contract(contract)


async def contract_activated(event: Incoming[ContractActivated], db: AsyncSession) -> None:
    repo = SchedulingRepository(db)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    contract.record_activated(
        student_id=data.student_id, coach_id=data.coach_id, session_count=data.session_count
    )
    await repo.save_contract(contract)


async def contract_cancelled(event: Incoming[ContractCancelled], db: AsyncSession) -> None:
    """Close the contract and cancel its sessions from the cancellation on, with its reason."""
    repo = SchedulingRepository(db)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    if not contract.record_cancelled(reason=data.reason, cancelled_at=data.cancelled_at):
        return
    await repo.save_contract(contract)
    now = datetime.now(UTC)
    upcoming = await repo.scheduled_sessions_from(data.contract_id, data.cancelled_at)
    for session in upcoming:
        session.cancel_for_closed_contract(data.reason, now)
    await repo.save_cancellations(upcoming)
