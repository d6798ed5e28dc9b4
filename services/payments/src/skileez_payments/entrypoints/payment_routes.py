"""Payment attempts as JSON, and refunds for admins."""

from __future__ import annotations

import uuid

from aiohttp import web

from skileez_payments.adapters.stripe_gateway import StripeRefused, StripeUnavailable
from skileez_payments.entrypoints.checkout_routes import contract_and_payments
from skileez_payments.entrypoints.resources import ENGINE, SETTINGS, STRIPE, api
from skileez_payments.entrypoints.schemas import PaymentOut, PaymentsOut, RefundIn, RefundOut
from skileez_payments.service_layer.refunds import NotRefundable, PaymentUnknown, request_refund
from skileez_payments.service_layer.unit_of_work import unit_of_work
from skileez_web.auth import Role, authenticate, require_role
from skileez_web.problems import Problem, parse_json


def payment_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise Problem(404, "payment_not_found", "There is no such payment.") from None


@api.operation(
    "GET",
    "/contracts/{id}/payments",
    summary="Every payment attempt of a contract, newest first",
    responses={200: PaymentsOut, 401: None, 403: None, 404: None},
)
async def contract_payments(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())
    _, attempts = await contract_and_payments(request, principal)
    body = PaymentsOut(payments=[PaymentOut.of(attempt) for attempt in attempts])
    return web.json_response(body.model_dump(mode="json"))


@api.operation(
    "GET",
    "/payments/{id}",
    summary="One payment attempt",
    responses={200: PaymentOut, 401: None, 403: None, 404: None},
)
async def payment(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())
    payment_id = payment_id_of(request)
    async with unit_of_work(request.app[ENGINE]) as uow:
        found = await uow.payments.get(payment_id)
        contract = await uow.contracts.get(found.contract_id) if found else None
    if found is None or contract is None:
        raise Problem(404, "payment_not_found", f"There is no payment {payment_id}.")
    if principal.role is not Role.ADMIN and not contract.is_party(principal.user_id):
        raise Problem(403, "forbidden", "This payment is not yours.")
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
    principal = authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())
    require_role(principal, Role.ADMIN)
    payment_id = payment_id_of(request)
    asked = await parse_json(request, RefundIn)
    client_key = request.headers.get("Idempotency-Key")
    if client_key is not None and not 0 < len(client_key) <= 200:
        raise Problem(422, "validation_error", "Idempotency-Key must be 1 to 200 characters.")
    try:
        done = await request_refund(
            request.app[ENGINE],
            request.app[STRIPE],
            payment_id,
            asked.amount,
            asked.reason,
            client_key,
        )
    except PaymentUnknown:
        raise Problem(404, "payment_not_found", f"There is no payment {payment_id}.") from None
    except NotRefundable as refused:
        raise Problem(409, "not_refundable", str(refused)) from None
    except StripeUnavailable:
        raise Problem(503, "payment_provider_unavailable", "Stripe cannot be reached.") from None
    except StripeRefused as refused:
        raise Problem(502, "payment_provider_refused", f"Stripe refused: {refused}") from None
    body = RefundOut(
        payment_id=done.payment.id,
        stripe_refund_id=str(done.refund["id"]),
        amount=int(done.refund["amount"]),
        currency=done.payment.currency,
        status=str(done.refund.get("status")),
    )
    return web.json_response(body.model_dump(mode="json"), status=202)
