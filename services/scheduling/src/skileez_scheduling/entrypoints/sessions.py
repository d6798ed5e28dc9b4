"""The sessions API: thin routes that parse, call a handler and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from aiohttp import web
from opentelemetry import trace

from skileez_events.tracing import continued
from skileez_scheduling.domain.commands import (
    BookSession,
    CancelSession,
    ListPartySessions,
    ListSessions,
)
from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import DomainError, NotFound, PaymentRequired
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.entrypoints.errors import REFUSALS
from skileez_scheduling.entrypoints.resources import (
    PROBLEMS,
    SETTINGS,
    api,
    caller,
    request_unit_of_work,
)
from skileez_scheduling.entrypoints.schedule import (
    BookingEntry,
    cancellation_note,
    counterpart,
    render_schedule,
)
from skileez_scheduling.entrypoints.schemas import (
    BookingForm,
    BookingRequest,
    ContractSessions,
    PartySessionOut,
    PartySessions,
    SessionOut,
    SessionsQuery,
)
from skileez_scheduling.service_layer import booking
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import REDIRECT
from skileez_web.pages import render_page
from skileez_web.pagination import PageQuery, page_of
from skileez_web.problems import (
    Problem,
    as_problem,
    parse_form,
    parse_json,
    parse_query,
    path_id,
)


def back_to_schedule(request: web.Request, contract_id: UUID) -> web.HTTPSeeOther:
    """A browser's way back to the contract's schedule page, on the host it came through."""
    return web.HTTPSeeOther(urlsplit(request.app[SETTINGS].links.schedule(contract_id)).path)


PAGE_REFUSALS = (402, 409, 422)
"""The refusals of a booking the schedule page shows in its form; others get an error page."""


async def requested_booking(request: web.Request) -> tuple[datetime, int]:
    """The start and duration asked for: from the schedule page's form, or a JSON body."""
    if is_form(request):
        form = await parse_form(request, BookingForm)
        return form.starts_at, form.duration_minutes
    body = await parse_json(request, BookingRequest)
    return body.starts_at, body.duration_minutes


@api.operation(
    "POST",
    "/contracts/{contract_id}/sessions",
    summary="Book a session of an active contract (its student or coach); a browser's form"
    " refused is its schedule page again, with the refusal beside the field",
    body=BookingRequest,
    form=BookingForm,
    responses={
        201: SessionOut,
        303: REDIRECT,
        400: None,
        **PROBLEMS,
        402: None,
        409: None,
        422: None,
    },
)
async def book(request: web.Request) -> web.StreamResponse:
    user_id = caller(request).user_id
    contract_id = path_id(request, NotFound, "contract_id")
    settings = request.app[SETTINGS]
    try:
        starts_at, duration_minutes = await requested_booking(request)
        command = BookSession(
            contract_id=contract_id,
            user_id=user_id,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            now=datetime.now(UTC),
        )
        async with request_unit_of_work(request) as uow:
            booked = await booking.book_session(
                command, uow, cancellation_allowance=settings.cancellation_allowance
            )
    except (Problem, DomainError) as error:
        problem = as_problem(REFUSALS, error)
        if problem is None:
            raise
        if isinstance(error, PaymentRequired):
            problem.extra["payment_url"] = settings.links.pay(contract_id)
        if problem.status not in PAGE_REFUSALS or not browser_form(request):
            raise problem from None
        posted = {name: str(value) for name, value in (await request.post()).items()}
        entry = BookingEntry.refused(posted, problem)
        return await render_schedule(request, contract_id, user_id, entry, problem.status)
    link_to_activation(booked.contract)
    if wants_html(request):
        raise back_to_schedule(request, contract_id)
    session = booked.session
    return web.json_response(
        SessionOut.of(session).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/sessions/{session.id}"},
    )


def link_to_activation(contract: ContractView) -> None:
    """Link the request's span to the span the contract's activation was applied under: a
    booking's trace leads to the payment's that opened the contract."""
    activation = continued({"traceparent": contract.activation_traceparent})
    if activation is not None:
        span_context = trace.get_current_span(activation).get_span_context()
        trace.get_current_span().add_link(span_context)


def browser_form(request: web.Request) -> bool:
    return is_form(request) and wants_html(request)


@api.operation(
    "GET",
    "/contracts/{contract_id}/sessions",
    summary="A page of a contract's sessions by start time, cancelled ones included unless"
    " `status` says which (its student or coach)",
    query=SessionsQuery,
    responses={200: ContractSessions, **PROBLEMS, 422: None},
)
async def list_sessions(request: web.Request) -> web.Response:
    user_id = caller(request).user_id
    contract_id = path_id(request, NotFound, "contract_id")
    query = parse_query(request, SessionsQuery)
    command = ListSessions(contract_id, user_id, query.status, query.after, query.limit + 1)
    async with request_unit_of_work(request) as uow:
        found = await booking.contract_sessions(command, uow)
    sessions, next_cursor = page_of(
        found.sessions, query.limit, lambda session: (session.starts_at, session.id)
    )
    body = ContractSessions.page(found.contract, found.tally, sessions, next_cursor)
    return web.json_response(body.model_dump(mode="json"))


@dataclass(frozen=True)
class PartySessionLine:
    """One of the reader's sessions as a row of their sessions page."""

    starts_at: datetime
    duration_minutes: int
    upcoming: bool
    title: str | None
    counterpart: str | None
    cancellation: str | None
    schedule_url: str

    @classmethod
    def of(
        cls, session: Session, contract: ContractView, reader: str, now: datetime
    ) -> PartySessionLine:
        return cls(
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            upcoming=session.starts_at > now,
            title=contract.title,
            counterpart=counterpart(contract, reader),
            cancellation=cancellation_note(session, contract, reader),
            schedule_url=f"/contracts/{contract.id}/schedule",
        )


@api.operation(
    "GET",
    "/sessions",
    summary="A page of the caller's sessions across their contracts (as student or coach):"
    " those not started yet by start time, then the past ones, the latest first (an HTML page"
    " for browsers)",
    query=PageQuery,
    responses={200: PartySessions, **PROBLEMS, 422: None},
)
async def party_sessions(request: web.Request) -> web.Response:
    reader = caller(request).user_id
    query = parse_query(request, PageQuery)
    now = datetime.now(UTC)
    command = ListPartySessions(reader, now, query.after, query.limit + 1)
    async with request_unit_of_work(request) as uow:
        found = await booking.sessions_of_party(command, uow)
    sessions, next_cursor = page_of(
        found.sessions, query.limit, lambda session: (session.starts_at, session.id)
    )
    if wants_html(request):
        lines = [
            PartySessionLine.of(session, found.contracts[session.contract_id], reader, now)
            for session in sessions
        ]
        more = {"cursor": next_cursor, "limit": query.limit} if next_cursor else None
        return render_page(
            request,
            "sessions.html",
            {
                "upcoming": [line for line in lines if line.upcoming],
                "past": [line for line in lines if not line.upcoming],
                "first_page": query.cursor is None,
                "next_url": f"/sessions?{urlencode(more)}" if more else None,
            },
        )
    out = [
        PartySessionOut.with_contract(session, found.contracts.get(session.contract_id))
        for session in sessions
    ]
    return web.json_response(
        PartySessions(sessions=out, next_cursor=next_cursor).model_dump(mode="json")
    )


@api.operation(
    "GET",
    "/sessions/{session_id}",
    summary="One session (its student or coach)",
    responses={200: SessionOut, **PROBLEMS},
)
async def get_session(request: web.Request) -> web.Response:
    user_id = caller(request).user_id
    session_id = path_id(request, NotFound, "session_id")
    async with request_unit_of_work(request) as uow:
        session = await booking.session_of(session_id, uow, user_id=user_id)
    return web.json_response(SessionOut.of(session).model_dump(mode="json"))


@api.operation(
    "POST",
    "/sessions/{session_id}/cancel",
    summary="Cancel a session that has not started (its student or coach); frees its slot",
    responses={200: SessionOut, 303: REDIRECT, **PROBLEMS, 409: None},
)
async def cancel(request: web.Request) -> web.StreamResponse:
    command = CancelSession(
        user_id=caller(request).user_id,
        session_id=path_id(request, NotFound, "session_id"),
        now=datetime.now(UTC),
    )
    async with request_unit_of_work(request) as uow:
        session = await booking.cancel_session(command, uow)
    if wants_html(request):
        raise back_to_schedule(request, session.contract_id)
    return web.json_response(SessionOut.of(session).model_dump(mode="json"))
