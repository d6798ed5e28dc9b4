"""Routes: coaches propose, students accept or decline."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.domain.commands import AnswerProposal, MakeProposal
from skileez_contracts.domain.errors import ProposalNotFound
from skileez_contracts.entrypoints.resources import api, caller, reading, request_unit_of_work
from skileez_contracts.entrypoints.schemas import Page, ProposalIn, ProposalList, ProposalOut
from skileez_contracts.service_layer import proposals
from skileez_web.auth import Role, require_role
from skileez_web.negotiation import is_form
from skileez_web.openapi import REDIRECT, ResponseSpec
from skileez_web.problems import parse_json, parse_query, path_id

ANSWER_RESPONSES: dict[int, ResponseSpec] = {
    200: ProposalOut,
    303: REDIRECT,
    401: None,
    403: None,
    404: None,
    409: None,
}


@api.operation(
    "POST",
    "/proposals",
    summary="A coach proposes paid sessions to a student",
    body=ProposalIn,
    responses={201: ProposalOut, 400: None, 401: None, 403: None, 422: None},
)
async def create_proposal(request: web.Request) -> web.Response:
    principal = caller(request)
    require_role(principal, Role.COACH)
    offer = await parse_json(request, ProposalIn)
    command = MakeProposal(
        coach_id=principal.user_id,
        student_id=offer.student_id,
        title=offer.title,
        description=offer.description or "",
        session_count=offer.session_count,
        price_per_session=offer.price_per_session,
        currency=offer.currency,
    )
    async with request_unit_of_work(request) as uow:
        proposal = await proposals.propose(command, uow)
    return web.json_response(
        ProposalOut.of(proposal).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/proposals/{proposal.id}"},
    )


@api.operation(
    "GET",
    "/proposals",
    summary="The proposals the caller made or received, newest first",
    query=Page,
    responses={200: ProposalList, 401: None, 422: None},
)
async def list_proposals(request: web.Request) -> web.Response:
    principal = caller(request)
    page = parse_query(request, Page)
    async with reading(request) as uow:
        found = await proposals.proposals_of(
            principal.user_id, uow, limit=page.limit, offset=page.offset
        )
    listing = ProposalList(items=[ProposalOut.of(p) for p in found])
    return web.json_response(listing.model_dump(mode="json"))


@api.operation(
    "GET",
    "/proposals/{id}",
    summary="A proposal, for its coach and its student",
    responses={200: ProposalOut, 401: None, 403: None, 404: None},
)
async def get_proposal(request: web.Request) -> web.Response:
    principal = caller(request)
    proposal_id = path_id(request, ProposalNotFound)
    async with reading(request) as uow:
        proposal = await proposals.show_proposal(proposal_id, uow, viewer=principal.user_id)
    return web.json_response(ProposalOut.of(proposal).model_dump(mode="json"))


@api.operation(
    "POST",
    "/proposals/{id}/accept",
    summary="The student accepts an open proposal",
    responses=ANSWER_RESPONSES,
)
async def accept_proposal(request: web.Request) -> web.Response:
    return await _answer(request, proposals.accept_proposal)


@api.operation(
    "POST",
    "/proposals/{id}/decline",
    summary="The student declines an open proposal",
    responses=ANSWER_RESPONSES,
)
async def decline_proposal(request: web.Request) -> web.Response:
    return await _answer(request, proposals.decline_proposal)


async def _answer(request: web.Request, decide: proposals.Decision) -> web.Response:
    principal = caller(request)
    require_role(principal, Role.STUDENT)
    answer = AnswerProposal(path_id(request, ProposalNotFound), principal.user_id)
    async with request_unit_of_work(request) as uow:
        proposal = await decide(answer, uow)
    if is_form(request):
        raise web.HTTPSeeOther(f"/proposals/{proposal.id}")
    return web.json_response(ProposalOut.of(proposal).model_dump(mode="json"))
