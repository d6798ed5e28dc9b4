"""Booking, listing and cancelling sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from skileez_scheduling.domain.commands import (
    BookSession,
    CancelSession,
    ListPartySessions,
    ListSessions,
)
from skileez_scheduling.domain.contracts import ContractView, SessionTally
from skileez_scheduling.domain.errors import NotAParticipant, NotFound
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Booking:
    """A session just booked, and its contract as it stood (its activation's trace, for one)."""

    session: Session
    contract: ContractView


@dataclass(frozen=True)
class SessionsPage:
    """The contract as scheduling sees it, its tally, and a page of its sessions."""

    contract: ContractView
    tally: SessionTally
    sessions: list[Session]


@dataclass(frozen=True)
class PartySessions:
    """A page of one person's sessions across their contracts, with those contracts (for
    their titles and the names of the other party)."""

    sessions: list[Session]
    contracts: dict[UUID, ContractView]


@dataclass(frozen=True)
class Schedule:
    """What a party needs of a contract's sessions at a glance: every scheduled one (at most
    its session count, when it has one), those to come first, and only the latest cancellations."""

    contract: ContractView
    tally: SessionTally
    upcoming: list[Session]
    """Scheduled and not started, the soonest first."""
    past: list[Session]
    """Scheduled and started, the latest first."""
    recently_cancelled: list[Session]
    """The latest cancelled first; `tally.cancelled` says how many there are in all."""


async def book_session(
    command: BookSession, uow: UnitOfWork, *, cancellation_allowance: int
) -> Booking:
    """Book a session, which publishes SessionBooked; the contract stays locked while its
    sessions are counted, so bookings of one contract are counted in turn (a cancellation does
    not wait for that lock: bookings racing cancellations may pass the limit by the few
    sessions scheduled at that moment)."""
    contract_id = command.contract_id
    contract = _known(await uow.contracts.get(contract_id, for_update=True), contract_id)
    session = Session.book(
        contract,
        booked_by=command.user_id,
        starts_at=command.starts_at,
        duration_minutes=command.duration_minutes,
        sessions=await uow.sessions.tally(contract_id),
        cancellation_allowance=cancellation_allowance,
        now=command.now,
    )
    await uow.sessions.add(session)
    return Booking(session, contract)


async def contract_sessions(query: ListSessions, uow: UnitOfWork) -> SessionsPage:
    """A page of the contract's sessions, cancelled ones included unless filtered out."""
    contract = await _seen_by(query.contract_id, query.user_id, uow)
    sessions = await uow.sessions.page(query.contract_id, query.status, query.after, query.limit)
    return SessionsPage(contract, await uow.sessions.tally(query.contract_id), sessions)


async def sessions_of_party(query: ListPartySessions, uow: UnitOfWork) -> PartySessions:
    """The caller's own sessions, as student or coach: those to come first, by start time,
    then the past ones, the latest first."""
    sessions = await uow.sessions.of_party(query.user_id, query.now, query.after, query.limit)
    contracts = await uow.contracts.get_many({session.contract_id for session in sessions})
    return PartySessions(sessions, contracts)


async def schedule_of(
    contract_id: UUID, uow: UnitOfWork, *, user_id: str, now: datetime, cancelled_shown: int
) -> Schedule:
    """The contract's schedule for one of its parties, with its `cancelled_shown` latest
    cancellations."""
    contract = await _seen_by(contract_id, user_id, uow)
    scheduled = await uow.sessions.scheduled(contract_id)
    return Schedule(
        contract,
        await uow.sessions.tally(contract_id),
        upcoming=[session for session in scheduled if session.starts_at > now],
        past=[session for session in reversed(scheduled) if session.starts_at <= now],
        recently_cancelled=await uow.sessions.recently_cancelled(contract_id, cancelled_shown),
    )


async def session_of(session_id: UUID, uow: UnitOfWork, *, user_id: str) -> Session:
    session = await uow.sessions.get(session_id)
    if session is None:
        raise NotFound(f"No session {session_id}.")
    if not session.is_participant(user_id):
        raise NotAParticipant("Only the session's student or coach may see it.")
    return session


async def session_and_contract(
    session_id: UUID, uow: UnitOfWork, *, user_id: str
) -> tuple[Session, ContractView]:
    """A session with its contract, for one of its parties (the page asking to confirm a
    cancellation shows both)."""
    session = await session_of(session_id, uow, user_id=user_id)
    return session, _known(await uow.contracts.get(session.contract_id), session.contract_id)


async def cancel_session(command: CancelSession, uow: UnitOfWork) -> Session:
    """A participant cancels a session, which publishes SessionCancelled; its slot is free for a
    new booking."""
    session = await uow.sessions.get(command.session_id, for_update=True)
    if session is None:
        raise NotFound(f"No session {command.session_id}.")
    session.cancel_by_participant(command.user_id, command.now)
    await uow.sessions.save_cancellations([session])
    return session


async def _seen_by(contract_id: UUID, user_id: str, uow: UnitOfWork) -> ContractView:
    contract = _known(await uow.contracts.get(contract_id), contract_id)
    contract.check_participant(user_id)
    return contract


def _known(contract: ContractView | None, contract_id: UUID) -> ContractView:
    # A contract only heard of through its cancellation has no parties yet: nobody may see it.
    if contract is None or not contract.is_known:
        raise NotFound(f"No contract {contract_id} is known to scheduling.")
    return contract
