"""The HTML pages of a contract's sessions: the schedule with its booking form (shown again with
the refusal beside the field and the values entered), and the confirmation of a cancellation.

Times travel in UTC inside `<time datetime>`; a small script in the page shows them in the
browser's own time zone, names that zone, and posts it with the booking form (without script,
everything reads and books in UTC, and says so)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aiohttp import web

from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import NotFound
from skileez_scheduling.domain.sessions import (
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    Session,
    SessionStatus,
)
from skileez_scheduling.entrypoints.resources import (
    PROBLEMS,
    SETTINGS,
    api,
    caller,
    request_unit_of_work,
)
from skileez_scheduling.entrypoints.schemas import ContractState
from skileez_scheduling.service_layer.booking import schedule_of, session_and_contract
from skileez_web.openapi import HTML
from skileez_web.pages import render_page
from skileez_web.problems import Problem, path_id

CANCELLED_SHOWN = 10
"""The latest cancellations the page lists; the JSON list pages through all of them."""

DURATIONS = (30, 45, 60, 90, 120)
"""The durations the booking form offers, in minutes (the API takes any in its bounds)."""

WHEN, DURATION, FORM = "when", "duration", "form"
"""Where the form shows a refusal: beside the date and time, beside the duration, or above."""
_FIELD_PLACES = {
    "start_date": WHEN,
    "start_time": WHEN,
    "time_zone": WHEN,
    "starts_at": WHEN,
    "duration_minutes": DURATION,
}
_FIELD_MESSAGES = {
    "start_date": "Enter a date, e.g. 2030-01-31.",
    "start_time": "Enter a time, e.g. 15:00.",
    "time_zone": "Your browser's time zone is not one we know: reload the page and try again.",
    "duration_minutes": (
        f"Choose a duration between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} minutes."
    ),
}


@dataclass(frozen=True)
class BookingEntry:
    """What the booking form shows: the values entered (or suggested), and the refusal of
    each place (`WHEN`, `DURATION`, `FORM`)."""

    start_date: str
    start_time: str
    time_zone: str
    duration_minutes: str
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def suggested(cls, now: datetime) -> BookingEntry:
        tomorrow = (now + timedelta(days=1)).date()
        return cls(tomorrow.isoformat(), "10:00", "UTC", "60")

    @classmethod
    def refused(cls, posted: Mapping[str, str], problem: Problem) -> BookingEntry:
        """The form as it was posted, with the refusal beside the field it is about."""
        errors: dict[str, str] = {}
        if problem.code == "validation_error":
            for error in problem.extra.get("errors", []):
                name = error["field"]
                message = _FIELD_MESSAGES.get(name, error["message"])
                errors.setdefault(_FIELD_PLACES.get(name, FORM), message)
        else:
            errors[_FIELD_PLACES.get(problem.extra.get("field", ""), FORM)] = problem.detail
        return cls(
            start_date=posted.get("start_date", ""),
            start_time=posted.get("start_time", ""),
            time_zone=posted.get("time_zone", "UTC"),
            duration_minutes=posted.get("duration_minutes", ""),
            errors=errors,
        )


@dataclass(frozen=True)
class SessionLine:
    """A session as a row of the page, a cancellation told in plain words to the one reading."""

    id: UUID
    starts_at: datetime
    duration_minutes: int
    cancellation: str | None

    @classmethod
    def of(cls, session: Session, contract: ContractView, reader: str) -> SessionLine:
        return cls(
            session.id,
            session.starts_at,
            session.duration_minutes,
            cancellation_note(session, contract, reader),
        )


def cancellation_note(session: Session, contract: ContractView, reader: str) -> str | None:
    """Who cancelled the session, as `reader` would say it; None while it is scheduled."""
    if session.status is not SessionStatus.CANCELLED:
        return None
    by = session.cancelled_by
    if by is None:
        return f"Cancelled with the contract ({session.cancellation_reason})."
    if by == reader:
        return "You cancelled this session."
    role = "coach" if by == session.coach_id else "student"
    name = contract.name_of(by)
    return f"Your {role}{f', {name},' if name else ''} cancelled this session."


def counterpart(contract: ContractView, reader: str) -> str | None:
    """Whom the reader's sessions are with, when the contract's events told the name."""
    if reader == contract.student_id and contract.coach_name:
        return f"With your coach, {contract.coach_name}"
    if reader == contract.coach_id and contract.student_name:
        return f"With your student, {contract.student_name}"
    return None


async def render_schedule(
    request: web.Request,
    contract_id: UUID,
    reader: str,
    entry: BookingEntry | None = None,
    status: int = 200,
) -> web.Response:
    """The schedule page of `contract_id` for one of its parties, its booking form showing
    `entry` (suggested values when None), answered with `status`."""
    now = datetime.now(UTC)
    async with request_unit_of_work(request) as uow:
        schedule = await schedule_of(
            contract_id, uow, user_id=reader, now=now, cancelled_shown=CANCELLED_SHOWN
        )
    contract = schedule.contract
    links = request.app[SETTINGS].links

    def lines(sessions: list[Session]) -> list[SessionLine]:
        return [SessionLine.of(session, contract, reader) for session in sessions]

    return render_page(
        request,
        "schedule.html",
        {
            "view": ContractState.of(contract, schedule.tally),
            "counterpart": counterpart(contract, reader),
            "upcoming": lines(schedule.upcoming),
            "past": lines(schedule.past),
            "cancelled": lines(schedule.recently_cancelled),
            "sessions_url": f"/contracts/{contract.id}/sessions",
            "title": contract.title,
            "payment_url": links.pay(contract.id),
            "contract_url": links.contract(contract.id),
            "entry": entry or BookingEntry.suggested(now),
            "durations": DURATIONS,
        },
        status=status,
    )


@api.operation(
    "GET",
    "/contracts/{contract_id}/schedule",
    summary="HTML page: a contract's sessions to come, held and lately cancelled, and a form"
    " to book one",
    responses={200: HTML, **PROBLEMS},
)
async def schedule_page(request: web.Request) -> web.StreamResponse:
    reader = caller(request).user_id
    return await render_schedule(request, path_id(request, NotFound, "contract_id"), reader)


@api.operation(
    "GET",
    "/sessions/{session_id}/cancel",
    summary="HTML page: asks its student or coach to confirm cancelling a session",
    responses={200: HTML, **PROBLEMS},
)
async def confirm_cancel_page(request: web.Request) -> web.StreamResponse:
    reader = caller(request).user_id
    session_id = path_id(request, NotFound, "session_id")
    async with request_unit_of_work(request) as uow:
        session, contract = await session_and_contract(session_id, uow, user_id=reader)
    return render_page(
        request,
        "cancel_session.html",
        {
            "session": SessionLine.of(session, contract, reader),
            "title": contract.title,
            "counterpart": counterpart(contract, reader),
            "cancellable": session.status is SessionStatus.SCHEDULED
            and session.starts_at > datetime.now(UTC),
            "schedule_url": f"/contracts/{contract.id}/schedule",
        },
    )
