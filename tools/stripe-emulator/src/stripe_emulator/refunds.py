"""Refunds: full, partial and several up to the captured amount, with their events."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from stripe_emulator.currency import format_amount
from stripe_emulator.disputes import blocks_refund
from stripe_emulator.expand import expand
from stripe_emulator.listing import charge_children_response
from stripe_emulator.objects import build_refund
from stripe_emulator.payments import get_charge
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_int,
    get_metadata,
    get_str,
    invalid_param,
    json_response,
    merged_metadata,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = ("charge", "payment_intent", "amount", "reason", "metadata", "expand")


def _charge_to_refund(state: EmulatorState, params: Mapping[str, Any]) -> JsonObject:
    charge_id = get_str(params, "charge")
    intent_id = get_str(params, "payment_intent")
    if charge_id and intent_id:
        raise StripeError(
            400, "You can only specify one of these parameters: charge, payment_intent."
        )
    if charge_id:
        return get_charge(state, charge_id)
    if intent_id:
        intent = state.store.payment_intents.get(intent_id)
        if intent is None:
            raise no_such("payment_intent", intent_id, "payment_intent")
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        return get_charge(state, intent["latest_charge"])
    raise StripeError(
        400,
        "One of the following params should be provided for this request: "
        "payment_intent or charge.",
        code="parameter_missing",
    )


def create_refund(
    state: EmulatorState, params: Mapping[str, Any], origin: RequestOrigin | None = None
) -> JsonObject:
    """Refund (part of) a charge; the charge keeps the cumulative `amount_refunded`."""
    reject_unknown(params, CREATE_PARAMS)
    charge = _charge_to_refund(state, params)
    reason = get_str(params, "reason")
    if reason is not None and reason not in REASONS:
        raise invalid_param(
            "reason", f"Invalid reason: must be one of {', '.join(REASONS)}", "parameter_invalid"
        )
    metadata = get_metadata(params)
    if charge["status"] != "succeeded":
        raise StripeError(
            400,
            f"Charge {charge['id']} has not succeeded and cannot be refunded.",
            param="charge",
        )
    if blocks_refund(state, charge):
        raise StripeError(
            400,
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
            param="charge",
        )
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
            param="charge",
        )
    amount = get_int(params, "amount")
    if amount is None:
        amount = remaining
    if amount <= 0:
        raise invalid_param("amount", "Invalid positive integer", "parameter_invalid_integer")
    if amount > remaining:
        code = charge["currency"]
        raise StripeError(
            400,
            f"Refund amount ({format_amount(amount, code)}) is greater than unrefunded amount "
            f"on charge ({format_amount(remaining, code)})",
            code="amount_too_large",
            param="amount",
        )
    refund = build_refund(
        created=state.now(), charge=charge, amount=amount, reason=reason, metadata=metadata
    )
    state.store.refunds[refund["id"]] = refund
    previous = {
        "amount_refunded": charge["amount_refunded"],
        "refunded": charge["refunded"],
        "refunds": copy.deepcopy(charge["refunds"]),
    }
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
    state.emit("charge.refunded", charge, previous_attributes=previous, origin=origin)
    state.emit("refund.created", refund, origin=origin)
    return refund


def update_refund(
    state: EmulatorState,
    refund: JsonObject,
    params: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """Update a refund's metadata (merged, `""` deletes a key), emitting refund.updated."""
    reject_unknown(params, ("metadata", "expand"))
    previous = {"metadata": dict(refund["metadata"])}
    merged = merged_metadata(refund["metadata"], params)
    if merged == refund["metadata"]:
        return refund
    refund["metadata"] = merged
    charge = state.store.charges.get(refund["charge"])
    if charge is not None:
        for embedded in charge["refunds"]["data"]:
            if embedded["id"] == refund["id"]:
                embedded["metadata"] = dict(merged)
    state.emit("refund.updated", refund, previous_attributes=previous, origin=origin)
    state.emit("charge.refund.updated", refund, previous_attributes=previous, origin=origin)
    return refund


def _get_refund(state: EmulatorState, refund_id: str) -> JsonObject:
    refund = state.store.refunds.get(refund_id)
    if refund is None:
        raise no_such("refund", refund_id, "refund")
    return refund


@routes.post("/v1/refunds")
async def create_refund_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    refund = create_refund(state, params, origin_of(request))
    return json_response(expand(state.store, refund, params))


@routes.get("/v1/refunds/{id}")
async def retrieve_refund_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    refund = _get_refund(state, request.match_info["id"])
    return json_response(expand(state.store, refund, params))


@routes.post("/v1/refunds/{id}")
async def update_refund_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    refund = _get_refund(state, request.match_info["id"])
    update_refund(state, refund, params, origin_of(request))
    return json_response(expand(state.store, refund, params))


@routes.get("/v1/refunds")
async def list_refunds_route(request: web.Request) -> web.Response:
    state = state_of(request)
    return await charge_children_response(request, state.store, state.store.refunds, "/v1/refunds")
