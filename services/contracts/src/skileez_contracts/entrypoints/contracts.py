"""Routes: the student takes a contract from an accepted proposal; its parties see it."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.domain.commands import CreateContract
from skileez_contracts.domain.errors import ContractNotFound
from skileez_contracts.entrypoints.resources import (
    SETTINGS,
    api,
    caller,
    reading,
    request_unit_of_work,
)
from skileez_contracts.entrypoints.schemas import ContractIn, ContractList, ContractOut, Page
from skileez_contracts.service_layer import contracts
from skileez_web.auth import Role, require_role
from skileez_web.money import format_amount
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import REDIRECT
from skileez_web.pages import render_page
from skileez_web.problems import parse_form, parse_json, parse_query, path_id


@api.operation(
    "POST",
    "/contracts",
    summary="The student takes the contract of an accepted proposal (a browser form gets 303)",
    body=ContractIn,
    form=ContractIn,
    responses={
        201: ContractOut,
        303: REDIRECT,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
    },
)
async def create_contract(request: web.Request) -> web.Response:
    principal = caller(request)
    require_role(principal, Role.STUDENT)
    form = is_form(request)
    taken = await (parse_form if form else parse_json)(request, ContractIn)
    command = CreateContract(taken.proposal_id, principal.user_id, student_name=principal.name)
    async with request_unit_of_work(request) as uow:
        contract = await contracts.create_contract(command, uow)
    pay = request.app[SETTINGS].links.pay(contract.id)
    if form:
        raise web.HTTPSeeOther(pay)
    return web.json_response(
        ContractOut.of(contract, pay).model_dump(mode="json"),
        status=201,
        headers={"Location": f"/contracts/{contract.id}"},
    )


@api.operation(
    "GET",
    "/contracts",
    summary="The caller's contracts, as student or coach, newest first (a page for browsers)",
    query=Page,
    responses={200: ContractList, 401: None, 422: None},
)
async def list_contracts(request: web.Request) -> web.Response:
    principal = caller(request)
    page = parse_query(request, Page)
    async with reading(request) as uow:
        found = await contracts.contracts_of(
            principal.user_id, uow, limit=page.limit, offset=page.offset
        )
    links = request.app[SETTINGS].links
    if wants_html(request):
        return render_page(
            request, "contracts.html", {"contracts": found, "viewer_id": principal.user_id}
        )
    listing = ContractList(items=[ContractOut.of(c, links.pay(c.id)) for c in found])
    return web.json_response(listing.model_dump(mode="json"))


@api.operation(
    "GET",
    "/contracts/{id}",
    summary="A contract, for its student and its coach (an HTML page for browsers)",
    responses={200: ContractOut, 401: None, 403: None, 404: None},
)
async def get_contract(request: web.Request) -> web.Response:
    principal = caller(request)
    contract_id = path_id(request, ContractNotFound)
    async with reading(request) as uow:
        contract = await contracts.show_contract(contract_id, uow, viewer=principal.user_id)
    links = request.app[SETTINGS].links
    pay = links.pay(contract.id)
    if not wants_html(request):
        return web.json_response(ContractOut.of(contract, pay).model_dump(mode="json"))
    page = {
        "contract": contract,
        "amount": format_amount(contract.amount, contract.currency),
        "is_student": principal.user_id == contract.student_id,
        "payment_url": pay,
        "sessions_url": links.schedule(contract.id),
        "can_cancel": contract.may_be_cancelled(),
    }
    return render_page(request, "contract.html", page)
