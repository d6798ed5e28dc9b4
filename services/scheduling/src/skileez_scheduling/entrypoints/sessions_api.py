"""The sessions API: thin routes that parse, call the service layer and render."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from skileez_db.connections import transaction
from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import (
    ContractClosed,
    InvalidSessionTime,
    NotAParticipant,
    PaymentRequired,
    SchedulingRefusal,
    SessionAlreadyCancelled,
    SessionAlreadyStarted,
    SessionLimitReached,
    SessionOverlap,
)
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.entrypoints.resources import ENGINE, SETTINGS
from skileez_scheduling.entrypoints.schemas import BookingRequest, ContractSessions, SessionOut
from skileez_scheduling.service_layer.booking import (
    book_session,
    cancel_session,
    contract_sessions,
    session_of,
)
from skileez_scheduling.service_layer.errors import NotFound
from skileez_web.auth import authenticate
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import REDIRECT, Api
from skileez_web.problems import Problem, parse_form, parse_json

api = Api("Skileez scheduling")

REFUSAL_STATUS: dict[type[SchedulingRefusal], int] = {
    NotAParticipant: 403,
    PaymentRequired: 402,
    ContractClosed: 409,
    SessionLimitReached: 409,
    SessionOverlap: 409,
    SessionAlreadyCancelled: 409,
    SessionAlreadyStarted: 409,
    InvalidSessionTime: 422,
}

PROBLEMS = {401: None, 403: None, 404: None}


def schedule_page_url(contract_id: UUID) -> str:
    return f"/contracts/{contract_id}/schedule"


def path_id(request: web.Request, name: str) -> UUID:
    """A UUID path parameter; anything else names nothing that exists."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "not_found", f"No such {name.removesuffix('_id')}.") from None


def problem_of(error: SchedulingRefusal | NotFound) -> Problem:
    if isinstance(error, NotFound):
        return Problem(404, "not_found", error.detail)
    return Problem(REFUSAL_STATUS[type(error)], error.code, error.detail)


def user_of(request: web.Request) -> str:
    return authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value()).user_id


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
    user_id = user_of(request)
    contract_id = path_id(request, "contract_id")
    parse = parse_form if is_form(request) else parse_json
    booking = await parse(request, BookingRequest)
    try:
        async with transaction(request.app[ENGINE]) as connection:
            session = await book_session(
                connection,
                contract_id,
                user_id=user_id,
                starts_at=booking.starts_at,
                duration_minutes=booking.duration_minutes,
                now=datetime.now(UTC),
            )
    except PaymentRequired as refusal:
        payment_url = request.app[SETTINGS].payment_url(contract_id)
        if wants_html(request):
            raise web.HTTPSeeOther(payment_url) from None
        raise Problem(402, refusal.code, refusal.detail, payment_url=payment_url) from None
    except (SchedulingRefusal, NotFound) as error:
        raise problem_of(error) from None
    if wants_html(request):
        raise web.HTTPSeeOther(schedule_page_url(contract_id))
    return web.json_response(
        SessionOut.of(session).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/sessions/{session.id}"},
    )


@api.operation(
    "GET",
    "/contracts/{contract_id}/sessions",
    summary="A contract's sessions, cancelled ones included (its student or coach)",
    responses={200: ContractSessions, **PROBLEMS},
)
async def list_sessions(request: web.Request) -> web.Response:
    contract, sessions = await sessions_of_contract(request)
    return web.json_response(ContractSessions.of(contract, sessions).model_dump(mode="json"))


async def sessions_of_contract(request: web.Request) -> tuple[ContractView, list[Session]]:
    """The path's contract and its sessions, for one of its parties (a problem otherwise)."""
    user_id = user_of(request)
    contract_id = path_id(request, "contract_id")
    try:
        async with transaction(request.app[ENGINE]) as connection:
            return await contract_sessions(connection, contract_id, user_id=user_id)
    except (SchedulingRefusal, NotFound) as error:
        raise problem_of(error) from None


@api.operation(
    "GET",
    "/sessions/{session_id}",
    summary="One session (its student or coach)",
    responses={200: SessionOut, **PROBLEMS},
)
async def get_session(request: web.Request) -> web.Response:
    user_id = user_of(request)
    session_id = path_id(request, "session_id")
    try:
        async with transaction(request.app[ENGINE]) as connection:
            session = await session_of(connection, session_id, user_id=user_id)
    except (SchedulingRefusal, NotFound) as error:
        raise problem_of(error) from None
    return web.json_response(SessionOut.of(session).model_dump(mode="json"))


@api.operation(
    "POST",
    "/sessions/{session_id}/cancel",
    summary="Cancel a session that has not started (its student or coach); frees its slot",
    responses={200: SessionOut, 303: REDIRECT, **PROBLEMS, 409: None},
)
async def cancel(request: web.Request) -> web.Response:
    user_id = user_of(request)
    session_id = path_id(request, "session_id")
    try:
        async with transaction(request.app[ENGINE]) as connection:
            session = await cancel_session(
                connection, session_id, user_id=user_id, now=datetime.now(UTC)
            )
    except (SchedulingRefusal, NotFound) as error:
        raise problem_of(error) from None
    if wants_html(request):
        raise web.HTTPSeeOther(schedule_page_url(session.contract_id))
    return web.json_response(SessionOut.of(session).model_dump(mode="json"))
