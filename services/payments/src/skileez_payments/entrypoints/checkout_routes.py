"""The payment pages and the Pay action: thin routes over `service_layer.checkout`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from skileez_payments.adapters import stripe_objects as so
from skileez_payments.adapters.stripe_gateway import StripeRefused, StripeUnavailable
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import PAID_STATUSES, Payment
from skileez_payments.entrypoints.resources import (
    ENGINE,
    SETTINGS,
    STRIPE,
    api,
    page,
    utc_now,
)
from skileez_payments.entrypoints.schemas import CheckoutOut, PaymentSuccessQuery
from skileez_payments.service_layer.checkout import (
    AlreadyPaid,
    CheckoutPolicy,
    ContractUnknown,
    NotTheStudent,
    PaymentInProgress,
    start_checkout,
)
from skileez_payments.service_layer.stripe_events import settle_checkout_session
from skileez_payments.service_layer.unit_of_work import unit_of_work
from skileez_web.auth import Principal, Role, authenticate
from skileez_web.correlation import correlation_id
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import HTML, REDIRECT
from skileez_web.problems import Problem, parse_query


def contract_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise Problem(404, "contract_not_found", "There is no such contract.") from None


def not_found(contract_id: uuid.UUID) -> Problem:
    return Problem(
        404,
        "contract_not_found",
        f"We do not know contract {contract_id} yet. If it was created a moment ago, "
        "please try again in a few seconds.",
    )


async def contract_and_payments(
    request: web.Request, principal: Principal
) -> tuple[PayableContract, list[Payment]]:
    """The contract (404 if unknown) and its attempts, for its student, coach or an admin."""
    contract_id = contract_id_of(request)
    async with unit_of_work(request.app[ENGINE]) as uow:
        contract = await uow.contracts.get(contract_id)
        attempts = await uow.payments.of_contract(contract_id) if contract else []
    if contract is None:
        raise not_found(contract_id)
    if principal.role is not Role.ADMIN and not contract.is_party(principal.user_id):
        raise Problem(403, "forbidden", "This contract is not yours.")
    return contract, attempts


def page_context(request: web.Request, contract: PayableContract, **extra: Any) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    return {
        "contract": contract,
        "contracts_url": settings.contracts_url.rstrip("/"),
        "scheduling_url": settings.scheduling_url.rstrip("/"),
        **extra,
    }


@api.operation(
    "GET",
    "/contracts/{id}/pay",
    summary="The payment page of a contract",
    responses={200: HTML, 401: None, 403: None, 404: None},
)
@page
async def payment_page(request: web.Request) -> web.StreamResponse:
    principal = authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())
    contract, attempts = await contract_and_payments(request, principal)
    paid = next((a for a in attempts if a.status in PAID_STATUSES), None)
    return aiohttp_jinja2.render_template(
        "pay.html",
        request,
        page_context(
            request,
            contract,
            paid=paid,
            settling=next((a for a in attempts if a.status.value == "processing"), None),
            can_pay=principal.user_id == contract.student_id,
        ),
    )


@api.operation(
    "POST",
    "/contracts/{id}/pay",
    summary="Start (or resume) paying a contract through Stripe Checkout",
    responses={
        200: CheckoutOut,
        201: CheckoutOut,
        303: REDIRECT,
        401: None,
        403: None,
        404: None,
        409: None,
        502: None,
        503: None,
    },
)
@page
async def pay(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    principal = authenticate(request, settings.jwt_secret.get_secret_value())
    contract_id = contract_id_of(request)
    policy = CheckoutPolicy(
        payments_url=settings.payments_url,
        expiry=timedelta(minutes=settings.checkout_expiry_minutes),
        clock=utc_now,
    )
    try:
        checkout = await start_checkout(
            request.app[ENGINE],
            request.app[STRIPE],
            policy,
            contract_id,
            principal.user_id,
            correlation_id(request),
        )
    except ContractUnknown:
        raise not_found(contract_id) from None
    except NotTheStudent:
        raise Problem(403, "forbidden", "Only the contract's student can pay it.") from None
    except AlreadyPaid as paid:
        raise Problem(
            409,
            "already_paid",
            "This contract is already paid.",
            payment_id=str(paid.payment.id),
        ) from None
    except PaymentInProgress as settling:
        raise Problem(
            409,
            "payment_in_progress",
            "A payment for this contract is being confirmed; no new payment is needed.",
            payment_id=str(settling.payment.id),
        ) from None
    except StripeUnavailable:
        raise Problem(
            503, "payment_provider_unavailable", "Stripe cannot be reached; please retry."
        ) from None
    except StripeRefused as refused:
        raise Problem(
            502, "payment_provider_refused", f"Stripe refused the payment: {refused}"
        ) from None
    payment = checkout.payment
    assert payment.checkout_session_id is not None
    assert payment.checkout_url is not None
    if is_form(request) or wants_html(request):
        raise web.HTTPSeeOther(payment.checkout_url)
    body = CheckoutOut(
        payment_id=payment.id,
        checkout_session_id=payment.checkout_session_id,
        checkout_url=payment.checkout_url,
        expires_at=payment.expires_at,
    )
    return web.json_response(
        body.model_dump(mode="json"),
        status=200 if checkout.reused else 201,
        headers={"Location": f"/payments/{payment.id}"},
    )


@api.operation(
    "GET",
    "/contracts/{id}/payment-success",
    summary="Where Stripe Checkout returns after payment: confirms it and shows the receipt",
    query=PaymentSuccessQuery,
    responses={200: HTML, 401: None, 403: None, 404: None, 422: None, 502: None, 503: None},
)
@page
async def payment_success(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    principal = authenticate(request, settings.jwt_secret.get_secret_value())
    query = parse_query(request, PaymentSuccessQuery)
    contract, _ = await contract_and_payments(request, principal)
    try:
        session = so.CheckoutSession.model_validate(
            await request.app[STRIPE].retrieve_checkout_session(query.session_id)
        )
    except StripeUnavailable:
        raise Problem(
            503, "payment_provider_unavailable", "Stripe cannot be reached; please reload."
        ) from None
    except StripeRefused:
        raise Problem(404, "session_not_found", "We found no such payment session.") from None
    if session.client_reference_id != str(contract.id):
        raise Problem(404, "session_not_found", "This payment session is for another contract.")
    async with unit_of_work(request.app[ENGINE]) as uow:
        payment = await settle_checkout_session(
            uow, session, livemode=settings.stripe_livemode, clock=utc_now, causation_id=None
        )
    if payment is None or payment.contract_id != contract.id:
        raise Problem(404, "session_not_found", "This payment session is not one of ours.")
    return aiohttp_jinja2.render_template(
        "success.html", request, page_context(request, contract, payment=payment)
    )


@api.operation(
    "GET",
    "/contracts/{id}/payment-cancel",
    summary="Where Stripe Checkout returns when the customer goes back without paying",
    responses={200: HTML, 401: None, 403: None, 404: None},
)
@page
async def payment_cancel(request: web.Request) -> web.StreamResponse:
    principal = authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())
    contract, attempts = await contract_and_payments(request, principal)
    paid = next((a for a in attempts if a.status in PAID_STATUSES), None)
    return aiohttp_jinja2.render_template(
        "cancel.html", request, page_context(request, contract, paid=paid)
    )
