"""What the HTTP API takes and gives (and so what `/openapi.json` describes)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from skileez_scheduling.domain.contracts import ContractView, SessionTally
from skileez_scheduling.domain.sessions import (
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    Session,
    SessionStatus,
)
from skileez_web.pagination import PageQuery


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime = Field(
        description="Start, in the future, with a timezone offset (RFC 3339)."
    )
    duration_minutes: int = Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)


class BookingForm(BaseModel):
    """The schedule page's booking form: a date and a time in the person's own time zone (the
    page fills in the browser's), read as one instant."""

    model_config = ConfigDict(extra="forbid")

    start_date: date
    start_time: time
    time_zone: str = Field(
        default="UTC", max_length=64, description="An IANA time zone, e.g. Europe/Lisbon."
    )
    duration_minutes: int = Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)

    @field_validator("time_zone")
    @classmethod
    def known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("not a time zone we know") from None
        return value

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start_date, self.start_time, ZoneInfo(self.time_zone))


class SessionOut(BaseModel):
    id: UUID
    contract_id: UUID
    student_id: str
    coach_id: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    status: Literal["scheduled", "cancelled"]
    booked_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancellation_reason: str | None

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(
            id=session.id,
            contract_id=session.contract_id,
            student_id=session.student_id,
            coach_id=session.coach_id,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            duration_minutes=session.duration_minutes,
            status=session.status.value,
            booked_by=session.booked_by,
            created_at=session.created_at,
            cancelled_at=session.cancelled_at,
            cancelled_by=session.cancelled_by,
            cancellation_reason=session.cancellation_reason,
        )


class PartySessionOut(SessionOut):
    """A session with what its contract tells of it."""

    contract_title: str | None
    student_name: str | None = Field(description="When the contract's events told it.")
    coach_name: str | None = Field(description="When the contract's events told it.")

    @classmethod
    def with_contract(cls, session: Session, contract: ContractView | None) -> PartySessionOut:
        return cls(
            **SessionOut.of(session).model_dump(),
            contract_title=contract.title if contract else None,
            student_name=contract.student_name if contract else None,
            coach_name=contract.coach_name if contract else None,
        )


class PartySessions(BaseModel):
    sessions: list[PartySessionOut] = Field(
        description="Those not started yet by start time, then the others, the latest first."
    )
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last page")


class SessionsQuery(PageQuery):
    status: SessionStatus | None = None


class ContractState(BaseModel):
    """A contract as scheduling sees it, and how many sessions it has."""

    contract_id: UUID
    contract_status: Literal["pending", "active", "suspended", "closed"] = Field(
        description="`suspended` while a dispute of its payment holds new bookings back."
    )
    closed_reason: str | None
    suspension_reason: str | None = Field(description="Why it is suspended, while it is.")
    session_count: int | None
    scheduled_count: int
    cancelled_count: int = Field(
        description="Cancelled sessions in all; once it reaches the session count plus the"
        " service's allowance, no new session can be booked (409 `cancellation_limit_reached`)."
    )

    @classmethod
    def of(cls, contract: ContractView, tally: SessionTally) -> ContractState:
        return cls(**_state(contract, tally))


class ContractSessions(ContractState):
    sessions: list[SessionOut] = Field(description="By start time, then id.")
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last page")

    @classmethod
    def page(
        cls,
        contract: ContractView,
        tally: SessionTally,
        sessions: list[Session],
        next_cursor: str | None,
    ) -> ContractSessions:
        out = [SessionOut.of(session) for session in sessions]
        return cls(**_state(contract, tally), sessions=out, next_cursor=next_cursor)


def _state(contract: ContractView, tally: SessionTally) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "contract_status": contract.shown_status,
        "closed_reason": contract.closed_reason,
        "suspension_reason": contract.suspension_reason if contract.is_suspended else None,
        "session_count": contract.session_count,
        "scheduled_count": tally.scheduled,
        "cancelled_count": tally.cancelled,
    }
