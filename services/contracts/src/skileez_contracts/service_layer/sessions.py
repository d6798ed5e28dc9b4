"""What scheduling tells us: a contract's session booked or cancelled, the read model the
cancellation policy counts. Either may come first or twice: a cancellation is never undone."""

from __future__ import annotations

from skileez_contracts.domain.sessions import BookedSession
from skileez_contracts.service_layer.unit_of_work import UnitOfWork
from skileez_events import SessionBooked, SessionCancelled


async def record_session_booked(booked: SessionBooked, uow: UnitOfWork) -> None:
    await uow.sessions.record_booked(
        BookedSession(
            id=booked.session_id,
            contract_id=booked.contract_id,
            starts_at=booked.starts_at,
            duration_minutes=booked.duration_minutes,
        )
    )


async def record_session_cancelled(cancelled: SessionCancelled, uow: UnitOfWork) -> None:
    await uow.sessions.record_cancelled(
        BookedSession(
            id=cancelled.session_id,
            contract_id=cancelled.contract_id,
            starts_at=cancelled.starts_at,
            duration_minutes=cancelled.duration_minutes,
            cancelled_at=cancelled.at,
        )
    )
