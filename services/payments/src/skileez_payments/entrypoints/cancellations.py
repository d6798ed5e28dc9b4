"""Cancelled contracts as payments took them: where a cancellation's refund stands, and for
admins, the refunds Stripe refused, held for a decision."""

from __future__ import annotations

from aiohttp import web

from skileez_payments.entrypoints.checkout import contract_id_of
from skileez_payments.entrypoints.resources import (
    StripeRoute,
    api,
    caller,
    refunding,
    request_unit_of_work,
    spend_stripe_route,
    viewer,
)
from skileez_payments.entrypoints.schemas import (
    CancellationOut,
    CancellationsOut,
    HeldRefundsQuery,
    RefundDecisionIn,
)
from skileez_payments.service_layer.cancellations import (
    cancellation_of,
    decide_held_refund,
    held_refunds,
)
from skileez_web.auth import Role, require_role
from skileez_web.problems import parse_json, parse_query


@api.operation(
    "GET",
    "/contracts/{id}/cancellation",
    summary="A cancelled contract's cancellation and where its refund stands (its student, its"
    " coach or an admin)",
    responses={200: CancellationOut, 401: None, 403: None, 404: None},
)
async def cancellation(request: web.Request) -> web.Response:
    asker = viewer(request)
    async with request_unit_of_work(request) as uow:
        found = await cancellation_of(contract_id_of(request), asker, uow)
    return web.json_response(CancellationOut.of(found).model_dump(mode="json"))


@api.operation(
    "GET",
    "/cancellations/held-refunds",
    summary="Cancellations whose refund Stripe refused, held for a decision, oldest first (admins)",
    query=HeldRefundsQuery,
    responses={200: CancellationsOut, 401: None, 403: None, 422: None},
)
async def held(request: web.Request) -> web.Response:
    require_role(caller(request), Role.ADMIN)
    query = parse_query(request, HeldRefundsQuery)
    async with request_unit_of_work(request) as uow:
        found = await held_refunds(uow, query.limit)
    body = CancellationsOut(cancellations=[CancellationOut.of(c) for c in found])
    return web.json_response(body.model_dump(mode="json"))


@api.operation(
    "POST",
    "/contracts/{id}/cancellation/refund-decision",
    summary="Decide a held cancellation refund (admins): retry it at Stripe, or drop it;"
    " who decided, when and why is kept",
    body=RefundDecisionIn,
    responses={
        200: CancellationOut,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
        429: None,
        503: None,
    },
)
async def refund_decision(request: web.Request) -> web.Response:
    operator = caller(request)
    require_role(operator, Role.ADMIN)
    spend_stripe_route(request, operator.user_id, StripeRoute.REVIEWS)
    contract_id = contract_id_of(request)
    decided = await parse_json(request, RefundDecisionIn)
    async with request_unit_of_work(request) as uow:
        done = await decide_held_refund(
            contract_id,
            decided.decision,
            decided.note.strip(),
            operator.user_id,
            uow,
            refunding(request.app),
        )
    return web.json_response(CancellationOut.of(done).model_dump(mode="json"))
