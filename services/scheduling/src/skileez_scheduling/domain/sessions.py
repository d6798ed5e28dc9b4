"""A coaching session: booked against an active contract, cancelled by a participant or a refund.

Each booking and cancellation records a domain event in `events`, which the unit of work
publishes (SessionBooked, SessionCancelled) in the transaction that saves the session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from skileez_scheduling.domain.contracts import ContractView, SessionTally
from skileez_scheduling.domain.errors import (
    InvalidSessionTime,
    NotAParticipant,
    SessionAlreadyCancelled,
    SessionAlreadyStarted,
)

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 480
MAX_BOOKING_HORIZON = timedelta(days=730)
"""How far ahead a session may be booked."""
SYSTEM = "system"
"""Who cancelled a session, in the event that says so, when its contract's end did."""


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Booked:
    """A participant (`by`) booked the session."""

    by: str
    at: datetime


@dataclass(frozen=True)
class Cancelled:
    """The session was called off."""

    by: str
    """The participant's user id, or `SYSTEM`."""
    at: datetime


DomainEvent = Booked | Cancelled


@dataclass
class Session:
    id: UUID
    contract_id: UUID
    student_id: str
    coach_id: str
    starts_at: datetime
    ends_at: datetime
    booked_by: str
    created_at: datetime
    status: SessionStatus = SessionStatus.SCHEDULED
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancellation_reason: str | None = None
    events: list[DomainEvent] = field(default_factory=list, compare=False)

    @classmethod
    def book(
        cls,
        contract: ContractView,
        *,
        booked_by: str,
        starts_at: datetime,
        duration_minutes: int,
        sessions: SessionTally,
        cancellation_allowance: int,
        now: datetime,
    ) -> Session:
        """A new session on `contract`, which has `sessions` already, or a refusal saying which
        rule it breaks."""
        contract.check_participant(booked_by)
        check_session_time(starts_at, duration_minutes, now)
        contract.check_can_book(sessions, cancellation_allowance)
        assert contract.student_id is not None
        assert contract.coach_id is not None
        starts_at = starts_at.astimezone(UTC)
        return cls(
            id=uuid.uuid4(),
            contract_id=contract.id,
            student_id=contract.student_id,
            coach_id=contract.coach_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=duration_minutes),
            booked_by=booked_by,
            created_at=now,
            events=[Booked(by=booked_by, at=now)],
        )

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    def is_participant(self, user_id: str) -> bool:
        return user_id in (self.student_id, self.coach_id)

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull, in order; the session forgets them."""
        recorded, self.events = self.events, []
        return recorded

    def cancel_by_participant(self, user_id: str, now: datetime) -> None:
        """A participant calls a session off before it starts, which frees its slot."""
        if not self.is_participant(user_id):
            raise NotAParticipant("Only the session's student or coach may cancel it.")
        if self.status is SessionStatus.CANCELLED:
            raise SessionAlreadyCancelled("The session is already cancelled.")
        if self.starts_at <= now:
            raise SessionAlreadyStarted("A session that has started cannot be cancelled.")
        role = "student" if user_id == self.student_id else "coach"
        self._cancel(now, by=user_id, reason=f"cancelled by the {role}")

    def cancel_for_closed_contract(self, reason: str, now: datetime) -> None:
        """The contract was cancelled (e.g. refunded): this session will not take place."""
        if self.status is SessionStatus.SCHEDULED:
            self._cancel(now, by=None, reason=reason)

    def _cancel(self, now: datetime, *, by: str | None, reason: str) -> None:
        self.status = SessionStatus.CANCELLED
        self.cancelled_at = now
        self.cancelled_by = by
        self.cancellation_reason = reason
        self.events.append(Cancelled(by=by or SYSTEM, at=now))


def check_session_time(starts_at: datetime, duration_minutes: int, now: datetime) -> None:
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise InvalidSessionTime(
            "starts_at needs a timezone offset, e.g. 2030-01-01T10:00:00Z.", field="starts_at"
        )
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidSessionTime(
            f"duration_minutes must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES}.",
            field="duration_minutes",
        )
    if starts_at <= now:
        raise InvalidSessionTime(
            "That time has passed: a session must start in the future.", field="starts_at"
        )
    if starts_at - now > MAX_BOOKING_HORIZON:
        raise InvalidSessionTime(
            f"Sessions can be booked at most {MAX_BOOKING_HORIZON.days} days ahead.",
            field="starts_at",
        )
