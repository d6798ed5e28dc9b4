"""Routes: coaches propose (from a form too), students accept or decline; pages for browsers."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from skileez_contracts.domain.commands import AnswerProposal, MakeProposal
from skileez_contracts.domain.errors import ProposalNotFound
from skileez_contracts.entrypoints.errors import REFUSALS
from skileez_contracts.entrypoints.resources import api, caller, reading, request_unit_of_work
from skileez_contracts.entrypoints.schemas import (
    Page,
    ProposalForm,
    ProposalIn,
    ProposalList,
    ProposalOut,
)
from skileez_contracts.service_layer import proposals
from skileez_contracts.service_layer.contracts import contract_of_proposal
from skileez_web.auth import Principal, Role, require_role
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import HTML, REDIRECT, ResponseSpec
from skileez_web.pages import render_page
from skileez_web.problems import Problem, as_problem, parse_form, parse_json, parse_query, path_id

ANSWER_RESPONSES: dict[int, ResponseSpec] = {
    200: ProposalOut,
    303: REDIRECT,
    401: None,
    403: None,
    404: None,
    409: None,
}

CURRENCIES = {"eur": "Euro (€)", "usd": "US dollar ($)", "gbp": "Pound sterling (£)"}
"""The currencies the form offers (the JSON API takes any Stripe charges in)."""

FIELD_OF_REFUSAL = {
    "unsupported_currency": "currency",
    "amount_too_small": "price_per_session",
    "amount_too_large": "price_per_session",
    "amount_too_precise": "price_per_session",
    "self_proposal": "student_id",
}
"""Where the form shows each refusal of the domain; any other is shown above the form."""

FIELD_MESSAGES = {
    "student_id": "Enter the student's Skileez id.",
    "title": "Give the proposal a title (200 characters at most).",
    "session_count": "Enter a number of sessions from 1 to 1000.",
    "price_per_session": "Enter a price per session, e.g. 45.00.",
    "currency": "Choose a currency.",
}
"""What the form says beside a field the validation refused (clearer than the validator)."""


@api.operation(
    "POST",
    "/proposals",
    summary="A coach proposes paid sessions to a student (a browser form gets 303 to the"
    " proposal, or the form again with what to correct)",
    body=ProposalIn,
    form=ProposalForm,
    responses={201: ProposalOut, 303: REDIRECT, 400: None, 401: None, 403: None, 422: None},
)
async def create_proposal(request: web.Request) -> web.StreamResponse:
    principal = caller(request)
    require_role(principal, Role.COACH)
    if not is_form(request):
        return await _propose(request, principal, await parse_json(request, ProposalIn))
    try:
        offer = (await parse_form(request, ProposalForm)).proposal()
        return await _propose(request, principal, offer)
    except Exception as error:
        refused = as_problem(REFUSALS, error)
        if refused is None or refused.status != 422 or not wants_html(request):
            raise
        return proposal_form(request, dict(await request.post()), refused)


async def _propose(
    request: web.Request, principal: Principal, offer: ProposalIn
) -> web.StreamResponse:
    command = MakeProposal(
        coach_id=principal.user_id,
        student_id=offer.student_id,
        title=offer.title,
        description=offer.description or "",
        session_count=offer.session_count,
        price_per_session=offer.price_per_session,
        currency=offer.currency,
        coach_name=principal.name,
    )
    async with request_unit_of_work(request) as uow:
        proposal = await proposals.propose(command, uow)
    if is_form(request):
        raise web.HTTPSeeOther(f"/proposals/{proposal.id}")
    return web.json_response(
        ProposalOut.of(proposal).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/proposals/{proposal.id}"},
    )


def proposal_form(
    request: web.Request, values: Mapping[str, object], refused: Problem | None = None
) -> web.Response:
    """The coach's form, with what was entered and each refusal beside its field."""
    errors: dict[str, str] = {}
    if refused is not None and refused.code == "validation_error":
        for error in refused.extra.get("errors", []):
            name = error["field"]
            if name in FIELD_MESSAGES:
                errors.setdefault(name, FIELD_MESSAGES[name])
            else:
                errors.setdefault("form", refused.detail)
    elif refused is not None:
        errors[FIELD_OF_REFUSAL.get(refused.code, "form")] = refused.detail
    page = {
        "values": {name: str(value) for name, value in values.items()},
        "errors": errors,
        "currencies": CURRENCIES,
    }
    return render_page(
        request, "proposal_form.html", page, status=422 if refused is not None else 200
    )


@api.operation(
    "GET",
    "/proposals/new",
    summary="HTML page: the coach's form to make a proposal",
    responses={200: HTML, 401: None, 403: None},
)
async def new_proposal(request: web.Request) -> web.Response:
    require_role(caller(request), Role.COACH)
    return proposal_form(request, {"session_count": "4", "currency": "eur"})


@api.operation(
    "GET",
    "/proposals",
    summary="The proposals the caller made or received, newest first (a page for browsers)",
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
    if wants_html(request):
        return render_page(request, "proposals.html", {"proposals": found, "page": page})
    listing = ProposalList(items=[ProposalOut.of(p) for p in found])
    return web.json_response(listing.model_dump(mode="json"))


@api.operation(
    "GET",
    "/proposals/{id}",
    summary="A proposal, for its coach and its student (a page for browsers, where its student"
    " accepts or declines it and takes its contract)",
    responses={200: ProposalOut, 401: None, 403: None, 404: None},
)
async def get_proposal(request: web.Request) -> web.Response:
    principal = caller(request)
    proposal_id = path_id(request, ProposalNotFound)
    if not wants_html(request):
        async with reading(request) as uow:
            proposal = await proposals.show_proposal(proposal_id, uow, viewer=principal.user_id)
        return web.json_response(ProposalOut.of(proposal).model_dump(mode="json"))
    async with request_unit_of_work(request) as uow:
        proposal = await proposals.show_proposal(proposal_id, uow, viewer=principal.user_id)
        contract_id = await contract_of_proposal(proposal.id, uow)
    page = {
        "proposal": proposal,
        "contract_id": contract_id,
        "is_student": principal.user_id == proposal.student_id,
    }
    return render_page(request, "proposal.html", page)


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
    answer = AnswerProposal(
        path_id(request, ProposalNotFound), principal.user_id, student_name=principal.name
    )
    async with request_unit_of_work(request) as uow:
        proposal = await decide(answer, uow)
    if is_form(request):
        raise web.HTTPSeeOther(f"/proposals/{proposal.id}")
    return web.json_response(ProposalOut.of(proposal).model_dump(mode="json"))
