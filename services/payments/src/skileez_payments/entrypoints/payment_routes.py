"""Payment attempts as JSON, and refunds for admins."""

from __future__ import annotations

import uuid

from aiohttp import web

from skileez_payments.domain.commands import RequestRefund
from skileez_payments.domain.errors import PaymentNotFound
from skileez_payments.entrypoints.checkout_routes import payments_of
from skileez_payments.entrypoints.resources import (
    STRIPE,
    api,
    caller,
    request_unit_of_work,
    units_of_work,
    viewer,
)
from skileez_payments.entrypoints.schemas import PaymentOut, PaymentsOut, RefundIn, RefundOut
from skileez_payments.service_layer.refunds import payment_for, request_refund
from skileez_web.auth import Role, require_role
from skileez_web.problems import Problem, parse_json, path_id


def payment_id_of(request: web.Request) -> uuid.UUID:
    return path_id(request, lambda _: PaymentNotFound())


@api.operation(
    "GET",
    "/contracts/{id}/payments",
    summary="Every payment attempt of a contract, newest first",
    responses={200: PaymentsOut, 401: None, 403: None, 404: None},
)
async def contract_payments(request: web.Request) -> web.Response:
    attempts = (await payments_of(request, viewer(request))).attempts
    body = PaymentsOut(payments=[PaymentOut.of(attempt) for attempt in attempts])
    return web.json_response(body.model_dump(mode="json"))


@api.operation(
    "GET",
    "/payments/{id}",
    summary="One payment attempt",
    responses={200: PaymentOut, 401: None, 403: None, 404: None},
)
async def payment(request: web.Request) -> web.Response:
    asker = viewer(request)
    payment_id = payment_id_of(request)
    async with request_unit_of_work(request) as uow:
        found = await payment_for(payment_id, asker, uow)
    return web.json_response(PaymentOut.of(found).model_dump(mode="json"))


@api.operation(
    "POST",
    "/payments/{id}/refunds",
    summary="Refund a payment, fully or partly (admins); the outcome arrives by webhook",
    body=RefundIn,
    responses={
        202: RefundOut,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
        502: None,
        503: None,
    },
)
async def refund(request: web.Request) -> web.Response:
    require_role(caller(request), Role.ADMIN)
    payment_id = payment_id_of(request)
    asked = await parse_json(request, RefundIn)
    client_key = request.headers.get("Idempotency-Key")
    if client_key is not None and not 0 < len(client_key) <= 200:
        raise Problem(422, "validation_error", "Idempotency-Key must be 1 to 200 characters.")
    command = RequestRefund(payment_id, asked.amount, asked.reason, client_key)
    done = await request_refund(command, units_of_work(request.app), request.app[STRIPE])
    body = RefundOut(
        payment_id=done.payment.id,
        stripe_refund_id=str(done.refund["id"]),
        amount=int(done.refund["amount"]),
        currency=done.payment.currency,
        status=str(done.refund.get("status")),
    )
    return web.json_response(body.model_dump(mode="json"), status=202)
