"""Disputes: opened through the control API (as a cardholder would), read through Stripe's."""

from __future__ import annotations

from aiohttp import web

from stripe_emulator.expand import expand
from stripe_emulator.listing import charge_children_response
from stripe_emulator.objects import build_dispute
from stripe_emulator.state import EmulatorState, state_of
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    invalid_param,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
EVIDENCE_WINDOW = 7 * 86_400


def open_dispute(
    state: EmulatorState, charge: JsonObject, reason: str, amount: int | None
) -> JsonObject:
    """The cardholder disputes `charge` (by default for its whole unrefunded amount)."""
    if reason not in REASONS:
        raise invalid_param("reason", f"Invalid reason: must be one of {', '.join(REASONS)}")
    if charge["status"] != "succeeded":
        raise StripeError(400, f"Charge {charge['id']} has not succeeded; it cannot be disputed.")
    if charge["disputed"]:
        raise StripeError(400, f"Charge {charge['id']} already has a dispute.")
    disputable = charge["amount_captured"] - charge["amount_refunded"]
    if amount is None:
        amount = disputable
    if not 0 < amount <= disputable:
        raise invalid_param("amount", f"Dispute amount must be between 1 and {disputable}.")
    now = state.now()
    dispute = build_dispute(
        created=now, charge=charge, amount=amount, reason=reason, due_by=now + EVIDENCE_WINDOW
    )
    state.store.disputes[dispute["id"]] = dispute
    charge["disputed"] = True
    state.emit("charge.dispute.created", dispute)
    return dispute


@routes.get("/v1/disputes/{id}")
async def retrieve_dispute_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    dispute = state.store.disputes.get(request.match_info["id"])
    if dispute is None:
        raise no_such("dispute", request.match_info["id"], "dispute")
    return json_response(expand(state.store, dispute, params))


@routes.get("/v1/disputes")
async def list_disputes_route(request: web.Request) -> web.Response:
    state = state_of(request)
    return await charge_children_response(
        request, state.store, state.store.disputes, "/v1/disputes"
    )
