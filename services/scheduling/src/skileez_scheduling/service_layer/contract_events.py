"""Keeping scheduling's view of contracts current from the contracts service's events.

Each handler runs on the consumer's asyncpg connection, in its transaction, after the event's
inbox record: the view's changes commit with that record. ContractActivated is on the activation
hot path: the consumer's batch has locked (or created) its view ahead (`lock_contracts`) and
writes the views' changes together at its commit, so it costs no statement of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from skileez_events import ContractActivated, ContractCancelled, ContractCreated, Incoming
from skileez_scheduling.adapters.repository import SchedulingRepository


async def contract_created(
    event: Incoming[ContractCreated], connection: asyncpg.Connection
) -> None:
    repo = SchedulingRepository(connection)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    contract.record_created(
        student_id=data.student_id,
        coach_id=data.coach_id,
        session_count=data.session_count,
        title=data.title,
    )
    repo.save_contract(contract)


async def contract_activated(
    event: Incoming[ContractActivated], connection: asyncpg.Connection
) -> None:
    repo = SchedulingRepository(connection)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    contract.record_activated(
        student_id=data.student_id, coach_id=data.coach_id, session_count=data.session_count
    )
    repo.save_contract(contract)


async def contract_cancelled(
    event: Incoming[ContractCancelled], connection: asyncpg.Connection
) -> None:
    """Close the contract and cancel its sessions from the cancellation on, with its reason."""
    repo = SchedulingRepository(connection)
    data = event.data
    contract = await repo.contract_for_event(data.contract_id)
    if not contract.record_cancelled(reason=data.reason, cancelled_at=data.cancelled_at):
        return
    repo.save_contract(contract)
    now = datetime.now(UTC)
    upcoming = await repo.scheduled_sessions_from(data.contract_id, data.cancelled_at)
    for session in upcoming:
        session.cancel_for_closed_contract(data.reason, now)
    await repo.save_cancellations(upcoming)
