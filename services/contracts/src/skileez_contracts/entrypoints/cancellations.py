"""Routes: a contract ended early by its student, its coach or an admin; the quote first (for
a browser, the confirmation page with the reason to give), then the cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from skileez_contracts.domain.cancellation import CancellationQuote
from skileez_contracts.domain.commands import CancelContract
from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractNotFound
from skileez_contracts.entrypoints.resources import (
    SETTINGS,
    api,
    caller,
    request_unit_of_work,
)
from skileez_contracts.entrypoints.schemas import CancelIn, CancellationQuoteOut, ContractOut
from skileez_contracts.service_layer import cancellations
from skileez_web.auth import Principal, Role
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import REDIRECT
from skileez_web.pages import render_page
from skileez_web.problems import Problem, parse_form, parse_json, path_id

REASON_MESSAGE = "Say in a few words why the contract ends (1000 characters at most)."
"""What the confirmation page says beside a reason the validation refused."""


@api.operation(
    "GET",
    "/contracts/{id}/cancellation-quote",
    summary="What ending the contract now would refund and how it was computed, for its"
    " student, its coach or an admin (a browser gets the confirmation page)",
    responses={200: CancellationQuoteOut, 401: None, 403: None, 404: None, 409: None},
)
async def cancellation_quote(request: web.Request) -> web.Response:
    principal = caller(request)
    contract, quote = await _quote(request, principal)
    if wants_html(request):
        return confirmation_page(request, contract, quote)
    return web.json_response(CancellationQuoteOut.of(quote).model_dump(mode="json"))


@api.operation(
    "POST",
    "/contracts/{id}/cancel",
    summary="Its student or coach, or an admin, ends the contract with a reason: the refund"
    " the policy owes goes back to the student (a browser form gets 303 to the contract)",
    body=CancelIn,
    form=CancelIn,
    responses={
        200: ContractOut,
        303: REDIRECT,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
    },
)
async def cancel_contract(request: web.Request) -> web.Response:
    principal = caller(request)
    contract_id = path_id(request, ContractNotFound)
    form = is_form(request)
    try:
        taken = await (parse_form if form else parse_json)(request, CancelIn)
    except Problem as refused:
        if not (form and wants_html(request)) or refused.code != "validation_error":
            raise
        contract, quote = await _quote(request, principal)
        return confirmation_page(request, contract, quote, error=REASON_MESSAGE, status=422)
    command = CancelContract(
        contract_id, principal.user_id, principal.role is Role.ADMIN, taken.reason
    )
    async with request_unit_of_work(request) as uow:
        contract, _ = await cancellations.cancel_contract(
            command, uow, policy=request.app[SETTINGS].cancellation_policy, now=datetime.now(UTC)
        )
    if form:
        raise web.HTTPSeeOther(f"/contracts/{contract.id}")
    pay = request.app[SETTINGS].links.pay(contract.id)
    return web.json_response(ContractOut.of(contract, pay).model_dump(mode="json"))


async def _quote(request: web.Request, principal: Principal) -> tuple[Contract, CancellationQuote]:
    contract_id: uuid.UUID = path_id(request, ContractNotFound)
    async with request_unit_of_work(request) as uow:  # the contract and its sessions, as one
        return await cancellations.quote_cancellation(
            contract_id,
            uow,
            user_id=principal.user_id,
            admin=principal.role is Role.ADMIN,
            policy=request.app[SETTINGS].cancellation_policy,
            now=datetime.now(UTC),
        )


def confirmation_page(
    request: web.Request,
    contract: Contract,
    quote: CancellationQuote,
    *,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    """The quote, how it was computed, and the form asking why (with what to correct)."""
    page: dict[str, Any] = {"contract": contract, "quote": quote, "error": error}
    return render_page(request, "cancel.html", page, status=status)
