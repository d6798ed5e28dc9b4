"""The payment pages and the Pay action: thin routes over `service_layer.checkout`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from skileez_payments.domain.commands import (
    ConfirmCheckout,
    OpenPaymentPage,
    StartCheckout,
    Viewer,
)
from skileez_payments.domain.contract_payments import Attempt, AwaitedContract, ContractPayments
from skileez_payments.domain.errors import ContractNotFound
from skileez_payments.entrypoints.resources import (
    SETTINGS,
    STRIPE,
    StripeRoute,
    api,
    caller,
    request_unit_of_work,
    spend_stripe_route,
    units_of_work,
    utc_now,
    viewer,
)
from skileez_payments.entrypoints.schemas import (
    CheckoutOut,
    PaymentPageQuery,
    PaymentSuccessQuery,
)
from skileez_payments.service_layer.checkout import (
    CheckoutPolicy,
    confirm_checkout,
    contract_payments,
    open_payment_page,
    start_checkout,
)
from skileez_web.correlation import correlation_id
from skileez_web.negotiation import is_form, wants_html
from skileez_web.openapi import HTML, REDIRECT
from skileez_web.pages import render_page
from skileez_web.problems import parse_query, path_id


def contract_id_of(request: web.Request) -> uuid.UUID:
    return path_id(request, lambda _: ContractNotFound())


async def payments_of(request: web.Request, asker: Viewer) -> ContractPayments:
    """The contract of the path and its attempts, for its student, coach or an admin."""
    async with request_unit_of_work(request) as uow:
        return await contract_payments(contract_id_of(request), asker, uow)


PREPARING_REFRESH_SECONDS = 2
"""How often the page of a contract being prepared looks again."""


def payments_context(payments: ContractPayments) -> dict[str, Any]:
    """What every page of a contract's payments shows: where its payment stands."""
    standing, shown = payments.where_it_stands()
    return {
        "contract": payments.contract,
        "standing": standing.value,
        "shown": shown,
        "cancellation": payments.cancellation,
        "refunded": payments.paid.amount_refunded if payments.paid else 0,
    }


def preparing_page(request: web.Request, awaited: AwaitedContract) -> web.StreamResponse:
    """A contract on its way: the page says so and asks again by itself, never a 404."""
    since = int(awaited.first_asked.timestamp())
    again = f"/contracts/{awaited.contract_id}/pay?waiting_since={since}"
    return render_page(
        request,
        "preparing.html",
        {
            "contract_id": awaited.contract_id,
            "refresh_url": again,
            "refresh_seconds": PREPARING_REFRESH_SECONDS,
        },
    )


@api.operation(
    "GET",
    "/contracts/{id}/pay",
    summary="The payment page of a contract",
    query=PaymentPageQuery,
    responses={200: HTML, 401: None, 403: None, 404: None, 422: None},
)
async def payment_page(request: web.Request) -> web.StreamResponse:
    """A browser asking for a contract payments has not learnt yet gets a page that says it is
    being prepared and looks again by itself, until `CONTRACT_WAIT`; other clients get 404."""
    asker = viewer(request)
    query = parse_query(request, PaymentPageQuery)
    command = OpenPaymentPage(contract_id_of(request), asker, query.first_asked)
    async with request_unit_of_work(request) as uow:
        shown = await open_payment_page(command, uow, utc_now())
    if isinstance(shown, AwaitedContract):
        if not wants_html(request):
            raise ContractNotFound(shown.contract_id)
        return preparing_page(request, shown)
    return render_page(
        request,
        "pay.html",
        {**payments_context(shown), "can_pay": shown.may_pay(asker.user_id)},
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
        429: None,
        502: None,
        503: None,
    },
)
async def pay(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    principal = caller(request)
    spend_stripe_route(request, principal.user_id, StripeRoute.PAY)
    command = StartCheckout(contract_id_of(request), principal.user_id, correlation_id(request))
    policy = CheckoutPolicy(
        expiry=timedelta(minutes=settings.checkout_expiry_minutes),
        success_url=settings.links.payment_success,
        cancel_url=settings.links.payment_cancel,
        clock=utc_now,
        livemode=settings.stripe_livemode,
    )
    checkout = await start_checkout(
        command, units_of_work(request.app), request.app[STRIPE], policy
    )
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
        status=200 if checkout.attempt is Attempt.REUSED else 201,
        headers={"Location": f"/payments/{payment.id}"},
    )


@api.operation(
    "GET",
    "/contracts/{id}/payment-success",
    summary="Where Stripe Checkout returns after payment: confirms it and shows the receipt",
    query=PaymentSuccessQuery,
    responses={
        200: HTML,
        401: None,
        403: None,
        404: None,
        422: None,
        429: None,
        502: None,
        503: None,
    },
)
async def payment_success(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    asker = viewer(request)
    spend_stripe_route(request, asker.user_id, StripeRoute.PAYMENT_SUCCESS)
    query = parse_query(request, PaymentSuccessQuery)
    _, payment = await confirm_checkout(
        ConfirmCheckout(contract_id_of(request), query.session_id, asker),
        units_of_work(request.app),
        request.app[STRIPE],
        livemode=settings.stripe_livemode,
        clock=utc_now,
    )
    payments = await payments_of(request, asker)
    return render_page(request, "success.html", {**payments_context(payments), "payment": payment})


@api.operation(
    "GET",
    "/contracts/{id}/payment-cancel",
    summary="Where Stripe Checkout returns when the customer goes back without paying",
    responses={200: HTML, 401: None, 403: None, 404: None},
)
async def payment_cancel(request: web.Request) -> web.StreamResponse:
    payments = await payments_of(request, viewer(request))
    return render_page(request, "cancel.html", payments_context(payments))
