"""The console's actions (admins): review a held payment, refund a payment, replay a dead
letter. Each is taken by the service that owns it, with the operator's own token, recorded in
the audit log, and answered with a redirect (303) to the page that shows its outcome."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aiohttp import web

from skileez_backoffice.adapters import console as views
from skileez_backoffice.adapters.audit_log import AuditLog
from skileez_backoffice.domain.audit import Action
from skileez_backoffice.domain.errors import PaymentNotFound
from skileez_backoffice.entrypoints.console import payment_id_of
from skileez_backoffice.entrypoints.resources import (
    PROBLEMS,
    SERVICES,
    admin,
    api,
    operator_token,
    request_transaction,
)
from skileez_backoffice.entrypoints.schemas import RefundForm, ReplayForm, ReviewForm
from skileez_backoffice.service_layer import operator_actions
from skileez_backoffice.service_layer.operator_actions import Operator
from skileez_events.schemas import MAX_AMOUNT
from skileez_web.money import decimals_of
from skileez_web.openapi import REDIRECT, ResponseSpec
from skileez_web.problems import Problem, parse_form

MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,255}")
"""A message id as producers make them (printable ASCII): anything else names no letter."""
ACTION: dict[int, ResponseSpec] = {303: REDIRECT, **PROBLEMS, 404: None}


def operator(request: web.Request) -> Operator:
    principal = admin(request)
    return Operator(principal.user_id, principal.name, operator_token(request))


def recording(request: web.Request) -> operator_actions.Record:
    async def record(action: Action) -> int:
        async with request_transaction(request) as connection:
            return await AuditLog(connection).record(action)

    return record


def minor_units(amount: str, currency: str) -> int:
    """`45.00` eur -> 4500; 422 `invalid_amount` for anything else than a positive amount
    with at most the currency's decimals, up to the largest an event may carry."""
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    units = value.scaleb(decimals_of(currency)) if value.is_finite() else value
    if not units.is_finite() or not 0 < units <= MAX_AMOUNT or units != units.to_integral_value():
        raise Problem(
            422,
            "invalid_amount",
            f"Give the amount as a positive number with at most {decimals_of(currency)} decimals.",
        )
    return int(units)


@api.operation(
    "POST",
    "/console/payments/{id}/review",
    summary="Decide a held payment through payments' review (admins): approve or refund, with"
    " a note; audited",
    form=ReviewForm,
    responses=ACTION,
)
async def review(request: web.Request) -> web.Response:
    acting = operator(request)
    payment_id = str(payment_id_of(request))
    form = await parse_form(request, ReviewForm)
    done = await operator_actions.review_held_payment(
        acting,
        payment_id,
        form.decision,
        form.note.strip(),
        request.app[SERVICES],
        recording(request),
    )
    raise web.HTTPSeeOther(f"/console/payments/{payment_id}?done={done.entry_id}")


@api.operation(
    "POST",
    "/console/payments/{id}/refund",
    summary="Refund a payment through payments' refund API (admins): all that is left or an"
    " amount, a reason and a note; one refund per form shown (its idempotency key); audited",
    form=RefundForm,
    responses=ACTION,
)
async def refund(request: web.Request) -> web.Response:
    acting = operator(request)
    payment_id = payment_id_of(request)
    form = await parse_form(request, RefundForm)
    async with request_transaction(request) as connection:
        found = await views.payment(connection, payment_id)
    if found is None:
        raise PaymentNotFound()
    currency = found["held_currency"] or found["currency"] or ""
    amount = None if form.amount is None else minor_units(form.amount, currency)
    done = await operator_actions.refund_payment(
        acting,
        str(payment_id),
        amount,
        form.reason,
        form.note.strip(),
        form.idempotency_key,
        request.app[SERVICES],
        recording(request),
    )
    raise web.HTTPSeeOther(f"/console/payments/{payment_id}?done={done.entry_id}")


@api.operation(
    "POST",
    "/console/dead-letters/{service}/{message_id}/replay",
    summary="Send a service's dead letter back to the consumer that gave up on it (admins),"
    " with a note; audited",
    form=ReplayForm,
    responses=ACTION,
)
async def replay(request: web.Request) -> web.Response:
    acting = operator(request)
    service = request.match_info["service"]
    if service not in request.app[SERVICES].services:
        raise Problem(404, "service_not_found", "There is no service of this name.")
    message_id = request.match_info["message_id"]
    if not MESSAGE_ID.fullmatch(message_id):
        raise Problem(404, "dead_letter_not_found", "No dead letter has this id.")
    form = await parse_form(request, ReplayForm)
    done = await operator_actions.replay_dead_letter(
        acting,
        service,
        message_id,
        form.note.strip(),
        request.app[SERVICES],
        recording(request),
    )
    raise web.HTTPSeeOther(f"/console/dead-letters?done={done.entry_id}")
