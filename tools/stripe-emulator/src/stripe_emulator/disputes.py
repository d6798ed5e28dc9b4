"""Disputes (chargebacks): opened and decided through the control API (as the cardholder and
the card network would), answered through Stripe's (evidence, acceptance) and read through it.

A chargeback withdraws the disputed amount plus Stripe's dispute fee at once
(`charge.dispute.created`, then `charge.dispute.funds_withdrawn`); `submit`ting evidence puts it
`under_review` (`charge.dispute.updated`); the network closes it `won` (`charge.dispute.closed`,
then `charge.dispute.funds_reinstated`: the amount comes back, the fee does not) or `lost`
(`charge.dispute.closed`); accepting it (`POST /v1/disputes/{id}/close`) loses it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from stripe_emulator.expand import expand
from stripe_emulator.listing import charge_children_response
from stripe_emulator.objects import build_balance_transaction, build_dispute, fixture
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_dict,
    get_metadata,
    get_str,
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
# Stripe's dispute fee ($15 in the US), taken in the charge's currency's minor units.
DISPUTE_FEE = 1500
OPEN_STATUSES = ("needs_response", "under_review")
CLOSED_STATUSES = ("won", "lost")
# Evidence fields are the fixture's, all strings (texts or file ids), but `enhanced_evidence`.
EVIDENCE_FIELDS = tuple(k for k in fixture("dispute")["evidence"] if k != "enhanced_evidence")


def get_dispute(state: EmulatorState, dispute_id: str) -> JsonObject:
    dispute = state.store.disputes.get(dispute_id)
    if dispute is None:
        raise no_such("dispute", dispute_id, "dispute")
    return dispute


def blocks_refund(state: EmulatorState, charge: JsonObject) -> bool:
    """A charged-back charge is refundable again only once every dispute on it was won."""
    return any(
        d["charge"] == charge["id"] and d["status"] != "won" for d in state.store.disputes.values()
    )


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
    dispute["balance_transactions"].append(
        build_balance_transaction(
            created=now,
            amount=-amount,
            fee=DISPUTE_FEE,
            currency=charge["currency"],
            description=f"Chargeback withdrawal for {charge['id']}",
            source=dispute["id"],
            reporting_category="dispute",
        )
    )
    state.store.disputes[dispute["id"]] = dispute
    charge["disputed"] = True
    state.emit("charge.dispute.created", dispute)
    state.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def _require_open(dispute: JsonObject) -> None:
    if dispute["status"] not in OPEN_STATUSES:
        raise StripeError(
            400,
            f"This dispute is already closed (status `{dispute['status']}`); "
            "it can no longer be changed.",
            param="dispute",
        )


def close_dispute(
    state: EmulatorState,
    dispute: JsonObject,
    status: str,
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """The network decides: `won` gives the disputed amount back (not the fee), `lost` keeps it
    with the cardholder."""
    if status not in CLOSED_STATUSES:
        raise invalid_param("status", "`status` must be one of won, lost")
    _require_open(dispute)
    dispute["status"] = status
    state.emit("charge.dispute.closed", dispute, origin=origin)
    if status == "won":
        dispute["balance_transactions"].append(
            build_balance_transaction(
                created=state.now(),
                amount=dispute["amount"],
                fee=0,
                currency=dispute["currency"],
                description=f"Chargeback reversal for {dispute['charge']}",
                source=dispute["id"],
                reporting_category="dispute_reversal",
            )
        )
        state.emit("charge.dispute.funds_reinstated", dispute, origin=origin)
    return dispute


def update_dispute(
    state: EmulatorState,
    dispute: JsonObject,
    params: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """Stage `evidence` and `metadata`; `submit` (default true, as Stripe) sends the evidence."""
    reject_unknown(params, ("evidence", "metadata", "submit", "expand"))
    evidence = get_dict(params, "evidence")
    reject_unknown(evidence, EVIDENCE_FIELDS, "evidence")
    submit = get_str(params, "submit") or "true"
    if submit not in ("true", "false"):
        raise invalid_param("submit", "Invalid boolean: submit must be true or false.")
    _require_open(dispute)
    previous: JsonObject = {}
    if evidence:
        previous["evidence"] = copy.deepcopy(dispute["evidence"])
        for name in evidence:
            dispute["evidence"][name] = get_str(evidence, name)
    if isinstance(params.get("metadata"), dict):
        previous["metadata"] = dict(dispute["metadata"])
        merged = {**dispute["metadata"], **get_metadata(params)}
        dispute["metadata"] = {k: v for k, v in merged.items() if v != ""}
    details = dispute["evidence_details"]
    if evidence:
        details["has_evidence"] = True
    if submit == "true" and (evidence or details["has_evidence"]):
        previous["status"] = dispute["status"]
        previous["evidence_details"] = dict(details)
        details["submission_count"] += 1
        dispute["status"] = "under_review"
    if previous:
        state.emit("charge.dispute.updated", dispute, previous_attributes=previous, origin=origin)
    return dispute


@routes.get("/v1/disputes/{id}")
async def retrieve_dispute_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    dispute = get_dispute(state, request.match_info["id"])
    return json_response(expand(state.store, dispute, params))


@routes.post("/v1/disputes/{id}")
async def update_dispute_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    dispute = get_dispute(state, request.match_info["id"])
    update_dispute(state, dispute, params, origin_of(request))
    return json_response(expand(state.store, dispute, params))


@routes.post("/v1/disputes/{id}/close")
async def accept_dispute_route(request: web.Request) -> web.Response:
    """Accept the dispute: it is lost at once (`charge.dispute.closed`, status `lost`)."""
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    dispute = get_dispute(state, request.match_info["id"])
    close_dispute(state, dispute, "lost", origin_of(request))
    return json_response(expand(state.store, dispute, params))


@routes.get("/v1/disputes")
async def list_disputes_route(request: web.Request) -> web.Response:
    state = state_of(request)
    return await charge_children_response(
        request, state.store, state.store.disputes, "/v1/disputes"
    )
