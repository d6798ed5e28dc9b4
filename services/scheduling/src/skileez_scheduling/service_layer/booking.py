"""Booking, listing and cancelling sessions."""

from __future__ import annotations

from uuid import UUID

from skileez_scheduling.domain.commands import BookSession, CancelSession
from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import NotAParticipant, NotFound
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.service_layer.unit_of_work import UnitOfWork


async def book_session(command: BookSession, uow: UnitOfWork) -> Session:
    """Book a session; the contract stays locked while its sessions are counted."""
    contract_id = command.contract_id
    contract = _known(await uow.contracts.get(contract_id, for_update=True), contract_id)
    session = Session.book(
        contract,
        booked_by=command.user_id,
        starts_at=command.starts_at,
        duration_minutes=command.duration_minutes,
        scheduled_sessions=await uow.sessions.count_scheduled(contract_id),
        now=command.now,
    )
    await uow.sessions.add(session)
    return session


async def contract_sessions(
    contract_id: UUID, uow: UnitOfWork, *, user_id: str
) -> tuple[ContractView, list[Session]]:
    """The contract as scheduling sees it and all its sessions, cancelled ones included."""
    contract = _known(await uow.contracts.get(contract_id), contract_id)
    contract.check_participant(user_id)
    return contract, await uow.sessions.of_contract(contract_id)


async def session_of(session_id: UUID, uow: UnitOfWork, *, user_id: str) -> Session:
    session = await uow.sessions.get(session_id)
    if session is None:
        raise NotFound(f"No session {session_id}.")
    if not session.is_participant(user_id):
        raise NotAParticipant("Only the session's student or coach may see it.")
    return session


async def cancel_session(command: CancelSession, uow: UnitOfWork) -> Session:
    """A participant cancels a session; its slot is free for a new booking."""
    session = await uow.sessions.get(command.session_id, for_update=True)
    if session is None:
        raise NotFound(f"No session {command.session_id}.")
    session.cancel_by_participant(command.user_id, command.now)
    await uow.sessions.save_cancellations([session])
    return session


def _known(contract: ContractView | None, contract_id: UUID) -> ContractView:
    # A contract only heard of through its cancellation has no parties yet: nobody may see it.
    if contract is None or not contract.is_known:
        raise NotFound(f"No contract {contract_id} is known to scheduling.")
    return contract
