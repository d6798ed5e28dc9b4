"""What a participant asks of scheduling over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from skileez_scheduling.domain.sessions import SessionStatus


@dataclass(frozen=True)
class BookSession:
    contract_id: UUID
    user_id: str
    starts_at: datetime
    duration_minutes: int
    now: datetime


@dataclass(frozen=True)
class ListSessions:
    """A page of a contract's sessions by start time: those of `status` (any if None), after
    the session `after` (starts_at, id) of the page before."""

    contract_id: UUID
    user_id: str
    status: SessionStatus | None
    after: tuple[datetime, UUID] | None
    limit: int


@dataclass(frozen=True)
class ListPartySessions:
    """A page of the sessions `user_id` is the student or coach of, across their contracts:
    those starting after `now` by start time, then the others latest first; after the session
    `after` (starts_at, id) of the page before."""

    user_id: str
    now: datetime
    after: tuple[datetime, UUID] | None
    limit: int


@dataclass(frozen=True)
class CancelSession:
    session_id: UUID
    user_id: str
    now: datetime
