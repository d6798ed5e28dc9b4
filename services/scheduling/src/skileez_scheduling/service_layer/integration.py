"""The public face of a session's domain events: the integration events other services read."""

from __future__ import annotations

from skileez_events import SessionBooked, SessionCancelled
from skileez_scheduling.domain.sessions import Booked, DomainEvent, Session


def integration_events(
    session: Session, recorded: list[DomainEvent]
) -> list[SessionBooked | SessionCancelled]:
    """What the session's recorded events are published as, in order."""
    return [integration_event(session, event) for event in recorded]


def integration_event(session: Session, event: DomainEvent) -> SessionBooked | SessionCancelled:
    model = SessionBooked if isinstance(event, Booked) else SessionCancelled
    return model(
        session_id=session.id,
        contract_id=session.contract_id,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes,
        by=event.by,
        at=event.at,
    )
