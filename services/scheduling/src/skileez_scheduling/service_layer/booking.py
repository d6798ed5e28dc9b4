"""Booking, listing and cancelling sessions: each call runs inside the caller's transaction
(`skileez_db.connections.transaction`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from skileez_scheduling.adapters.repository import SchedulingRepository
from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import NotAParticipant
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.service_layer.errors import NotFound


async def book_session(
    connection: asyncpg.Connection,
    contract_id: UUID,
    *,
    user_id: str,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
) -> Session:
    """Book a session; the contract row stays locked while its sessions are counted."""
    repo = SchedulingRepository(connection)
    contract = _known(await repo.contract(contract_id, for_update=True), contract_id)
    session = Session.book(
        contract,
        booked_by=user_id,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        scheduled_sessions=await repo.scheduled_sessions(contract_id),
        now=now,
    )
    await repo.add_session(session)
    return session


async def contract_sessions(
    connection: asyncpg.Connection, contract_id: UUID, *, user_id: str
) -> tuple[ContractView, list[Session]]:
    """The contract as scheduling sees it and all its sessions, cancelled ones included."""
    repo = SchedulingRepository(connection)
    contract = _known(await repo.contract(contract_id), contract_id)
    contract.check_participant(user_id)
    return contract, await repo.sessions_of(contract_id)


async def session_of(connection: asyncpg.Connection, session_id: UUID, *, user_id: str) -> Session:
    session = await SchedulingRepository(connection).session(session_id)
    if session is None:
        raise NotFound(f"No session {session_id}.")
    if not session.is_participant(user_id):
        raise NotAParticipant("Only the session's student or coach may see it.")
    return session


async def cancel_session(
    connection: asyncpg.Connection, session_id: UUID, *, user_id: str, now: datetime
) -> Session:
    """A participant cancels a session; its slot is free for a new booking."""
    repo = SchedulingRepository(connection)
    session = await repo.session(session_id, for_update=True)
    if session is None:
        raise NotFound(f"No session {session_id}.")
    session.cancel_by_participant(user_id, now)
    await repo.save_cancellations([session])
    return session


def _known(contract: ContractView | None, contract_id: UUID) -> ContractView:
    # A contract only heard of through its cancellation has no parties yet: nobody may see it.
    if contract is None or not contract.is_known:
        raise NotFound(f"No contract {contract_id} is known to scheduling.")
    return contract
