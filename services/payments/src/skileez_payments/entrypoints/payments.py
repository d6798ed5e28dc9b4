"""Payment attempts as JSON; for admins: refunds, reviews of held payments, and the Stripe events
no payment took."""

from __future__ import annotations

import uuid

from aiohttp import web

from skileez_payments.domain.commands import ListPayments, RequestRefund, ReviewPayment
from skileez_payments.domain.errors import PaymentNotFound
from skileez_payments.entrypoints.checkout import payments_of
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
    IDEMPOTENCY_KEY_LENGTH,
    PaymentOut,
    PaymentsOut,
    PaymentsPageOut,
    PaymentsQuery,
    RefundHeaders,
    RefundIn,
    RefundOut,
    ReviewedOut,
    ReviewIn,
    ReviewOut,
    ReviewsOut,
    UnmatchedEventOut,
    UnmatchedEventsOut,
    UnmatchedEventsQuery,
)
from skileez_payments.service_layer.reconciliation import unapplied_stripe_events
from skileez_payments.service_layer.refunds import list_payments, payment_for, request_refund
from skileez_payments.service_layer.reviews import ReviewPolicy, review_payment, reviews_of
from skileez_web.auth import Role, require_role
from skileez_web.pagination import page_of
from skileez_web.problems import Problem, parse_json, parse_query, path_id


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
    "/payments",
    summary="Payments by status, newest first (admins): held ones to review, disputed ones...",
    query=PaymentsQuery,
    responses={200: PaymentsPageOut, 401: None, 403: None, 422: None},
)
async def payments_listing(request: web.Request) -> web.Response:
    require_role(caller(request), Role.ADMIN)
    query = parse_query(request, PaymentsQuery)
    async with request_unit_of_work(request) as uow:
        fetched = await list_payments(ListPayments(query.status, query.after, query.limit + 1), uow)
    page, next_cursor = page_of(fetched, query.limit, lambda last: (last.created_at, last.id))
    body = PaymentsPageOut(
        payments=[PaymentOut.of(payment) for payment in page], next_cursor=next_cursor
    )
    return web.json_response(body.model_dump(mode="json"))


@api.operation(
    "GET",
    "/payments/unmatched-events",
    summary="Stripe events recorded but applied to no payment, newest first (admins): refunds"
    " and disputes waiting for their payment, other-mode, unreadable or mismatched ones",
    query=UnmatchedEventsQuery,
    responses={200: UnmatchedEventsOut, 401: None, 403: None, 422: None},
)
async def unmatched_events(request: web.Request) -> web.Response:
    require_role(caller(request), Role.ADMIN)
    query = parse_query(request, UnmatchedEventsQuery)
    async with request_unit_of_work(request) as uow:
        events = await unapplied_stripe_events(uow, query.limit)
    body = UnmatchedEventsOut(events=[UnmatchedEventOut.of(event) for event in events])
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
    summary="Refund a payment, fully or partly (admins); the outcome arrives by webhook. Header"
    " Idempotency-Key required: the same key and body answer the same and refund once",
    body=RefundIn,
    headers=RefundHeaders,
    responses={
        202: RefundOut,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
        429: None,
        502: None,
        503: None,
    },
)
async def refund(request: web.Request) -> web.Response:
    admin = caller(request)
    require_role(admin, Role.ADMIN)
    spend_stripe_route(request, admin.user_id, StripeRoute.REFUNDS)
    payment_id = payment_id_of(request)
    asked = await parse_json(request, RefundIn)
    client_key = request.headers.get("Idempotency-Key")
    if client_key is None:
        raise Problem(
            400,
            "idempotency_key_required",
            "A refund needs an Idempotency-Key header (a new one per refund, the same one when"
            " retrying it).",
        )
    if not 0 < len(client_key) <= IDEMPOTENCY_KEY_LENGTH:
        raise Problem(
            422,
            "validation_error",
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LENGTH} characters.",
        )
    command = RequestRefund(payment_id, asked.amount, asked.reason, client_key)
    done = await request_refund(command, units_of_work(request.app), request.app[STRIPE], utc_now)
    answered = done.request
    body = RefundOut(
        payment_id=done.payment.id,
        stripe_refund_id=answered.stripe_refund_id or "",
        amount=answered.refund_amount if answered.refund_amount is not None else answered.amount,
        currency=done.payment.charged_currency or done.payment.currency,
        status=answered.refund_status or "",
    )
    return web.json_response(body.model_dump(mode="json"), status=202)


@api.operation(
    "POST",
    "/payments/{id}/review",
    summary="Decide a payment held for review (admins): approve (it pays the contract) or"
    " refund (its whole charge goes back); every decision is recorded",
    body=ReviewIn,
    responses={
        200: ReviewedOut,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
        429: None,
        502: None,
        503: None,
    },
)
async def review(request: web.Request) -> web.Response:
    reviewer = caller(request)
    require_role(reviewer, Role.ADMIN)
    spend_stripe_route(request, reviewer.user_id, StripeRoute.REVIEWS)
    payment_id = payment_id_of(request)
    decided = await parse_json(request, ReviewIn)
    settings = request.app[SETTINGS]
    done = await review_payment(
        ReviewPayment(payment_id, decided.decision, decided.note.strip(), reviewer.user_id),
        units_of_work(request.app),
        request.app[STRIPE],
        ReviewPolicy(livemode=settings.stripe_livemode, clock=utc_now),
    )
    body = ReviewedOut(review=ReviewOut.of(done.review), payment=PaymentOut.of(done.payment))
    return web.json_response(body.model_dump(mode="json"))


@api.operation(
    "GET",
    "/payments/{id}/reviews",
    summary="The reviews of a payment, oldest first (admins)",
    responses={200: ReviewsOut, 401: None, 403: None, 404: None},
)
async def reviews(request: web.Request) -> web.Response:
    require_role(caller(request), Role.ADMIN)
    payment_id = payment_id_of(request)
    async with request_unit_of_work(request) as uow:
        found = await reviews_of(payment_id, uow)
    body = ReviewsOut(reviews=[ReviewOut.of(review) for review in found])
    return web.json_response(body.model_dump(mode="json"))
