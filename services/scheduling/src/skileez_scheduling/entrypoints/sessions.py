"""The sessions API: thin routes that parse, call a handler and render."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID

from aiohttp import web

from skileez_scheduling.domain.commands import BookSession, CancelSession, ListSessions
from skileez_scheduling.domain.errors import NotFound, PaymentRequired
from skileez_scheduling.entrypoints.resources import (
    PROBLEMS,
    SETTINGS,
    api,
    caller,
    request_unit_of_work,
)
from skileez_scheduling.entrypoints.schemas import (
    BookingRequest,
    ContractSessions,
    SessionOut,
    SessionsQuery,
)
from skileez_scheduling.service_layer import booking
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import REDIRECT
from skileez_web.pagination import page_of
from skileez_web.problems import parse_form, parse_json, parse_query, path_id


def back_to_schedule(request: web.Request, contract_id: UUID) -> web.HTTPSeeOther:
    """A browser's way back to the contract's schedule page, on the host it came through."""
    return web.HTTPSeeOther(urlsplit(request.app[SETTINGS].links.schedule(contract_id)).path)


@api.operation(
    "POST",
    "/contracts/{contract_id}/sessions",
    summary="Book a session of an active contract (its student or coach)",
    body=BookingRequest,
    form=BookingRequest,
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
async def book(request: web.Request) -> web.Response:
    user_id = caller(request).user_id
    contract_id = path_id(request, NotFound, "contract_id")
    parse = parse_form if is_form(request) else parse_json
    booking_request = await parse(request, BookingRequest)
    command = BookSession(
        contract_id=contract_id,
        user_id=user_id,
        starts_at=booking_request.starts_at,
        duration_minutes=booking_request.duration_minutes,
        now=datetime.now(UTC),
    )
    allowance = request.app[SETTINGS].cancellation_allowance
    try:
        async with request_unit_of_work(request) as uow:
            session = await booking.book_session(command, uow, cancellation_allowance=allowance)
    except PaymentRequired as refusal:
        # The refusal says where to pay; a browser is sent there.
        payment_url = request.app[SETTINGS].links.pay(contract_id)
        if wants_html(request):
            raise web.HTTPSeeOther(payment_url) from None
        raise PaymentRequired(str(refusal), payment_url=payment_url) from None
    if wants_html(request):
        raise back_to_schedule(request, contract_id)
    return web.json_response(
        SessionOut.of(session).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/sessions/{session.id}"},
    )


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
async def cancel(request: web.Request) -> web.Response:
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
