"""The control API under `/_emulator/`: not Stripe's, for tests and people driving the emulator.

Bodies may be JSON or form-encoded; answers are JSON; refusals use Stripe's error shape.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stripe_emulator.checkout import expire_due_sessions, forget_session, get_session
from stripe_emulator.customers import SAVABLE_CARDS, get_customer, replace_card
from stripe_emulator.disputes import CLOSED_STATUSES, close_dispute, get_dispute, open_dispute
from stripe_emulator.invoices import invoice_intent
from stripe_emulator.payments import (
    PaymentMethod,
    PaymentOutcome,
    get_charge,
    settle_due_payments,
    settle_payment,
)
from stripe_emulator.state import EmulatorState, state_of
from stripe_emulator.subscriptions import advance_subscriptions, pay_checkout_session
from stripe_emulator.webhooks import ChaosMode
from stripe_emulator.wire import JsonObject, StripeError, invalid_param, json_response

routes = web.RouteTableDef()

COMPLETE_OUTCOMES = {
    "paid": PaymentMethod.CARD_SUCCESS,
    "authenticated": PaymentMethod.CARD_AUTHENTICATION,
    "declined": PaymentMethod.CARD_DECLINE,
    "pending_async": PaymentMethod.DELAYED_SUCCESS,
}


async def _body(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.text() or "{}")
        except json.JSONDecodeError as exc:
            raise StripeError(400, f"Invalid JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise StripeError(400, "The JSON body must be an object.")
        return data
    return dict((await request.post()).items())


def _choice(body: JsonObject, name: str, choices: tuple[str, ...], default: str | None) -> str:
    value = body.get(name, default)
    if value not in choices:
        raise invalid_param(name, f"`{name}` must be one of {', '.join(choices)}")
    return str(value)


def _number(body: JsonObject, name: str, default: float | None = None) -> float | None:
    value: Any = body.get(name, default)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise invalid_param(name, f"`{name}` must be a number") from exc


def sweep(state: EmulatorState) -> tuple[int, int, int]:
    """Expire due sessions, settle due delayed payments, renew or end the subscriptions of
    customers without a test clock, and prune old events."""
    expired = expire_due_sessions(state)
    settled = settle_due_payments(state)
    renewed = advance_subscriptions(state, None)
    state.prune()
    return expired, settled, renewed


@routes.get("/_emulator/health")
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.post("/_emulator/checkout/sessions/{id}/complete")
async def complete_session(request: web.Request) -> web.Response:
    """Pay a session without a browser: `outcome` paid | authenticated | declined |
    pending_async; in `subscription` mode the answer has the subscription and its invoice."""
    state = state_of(request)
    body = await _body(request)
    session = get_session(state, request.match_info["id"])
    outcome = _choice(body, "outcome", tuple(COMPLETE_OUTCOMES), "paid")
    method = COMPLETE_OUTCOMES[outcome]
    if outcome == "pending_async":
        later = _choice(body, "async_outcome", ("succeeded", "failed"), "succeeded")
        if later == "failed":
            method = PaymentMethod.DELAYED_FAILURE
    email = body.get("email")
    result = pay_checkout_session(state, session, method, email if isinstance(email, str) else None)
    invoice = state.store.invoices.get(session["invoice"] or "")
    intent = (
        invoice_intent(state, invoice)
        if invoice is not None
        else state.store.payment_intents.get(session["payment_intent"] or "")
    )
    return json_response(
        {
            "outcome": result.value,
            "declined": result is PaymentOutcome.DECLINED,
            "session": session,
            "payment_intent": intent,
            "charge": None
            if intent is None
            else state.store.charges.get(intent["latest_charge"] or ""),
            "subscription": state.store.subscriptions.get(session["subscription"] or ""),
            "invoice": invoice,
        }
    )


async def _settle(request: web.Request, payment_intent_id: str) -> web.Response:
    state = state_of(request)
    body = await _body(request)
    outcome = _choice(body, "outcome", ("succeeded", "failed"), "succeeded")
    session = settle_payment(state, payment_intent_id, outcome == "succeeded")
    return json_response(
        {"session": session, "payment_intent": state.store.payment_intents[payment_intent_id]}
    )


@routes.post("/_emulator/checkout/sessions/{id}/settle")
async def settle_session(request: web.Request) -> web.Response:
    """Settle the session's pending delayed payment: `outcome` succeeded | failed."""
    session = get_session(state_of(request), request.match_info["id"])
    return await _settle(request, session["payment_intent"] or "")


@routes.post("/_emulator/payment_intents/{id}/settle")
async def settle_intent(request: web.Request) -> web.Response:
    return await _settle(request, request.match_info["id"])


@routes.post("/_emulator/charges/{id}/dispute")
async def dispute_charge(request: web.Request) -> web.Response:
    """Open a dispute on a charge: optional `reason` (default fraudulent) and `amount`."""
    state = state_of(request)
    body = await _body(request)
    charge = get_charge(state, request.match_info["id"])
    amount = _number(body, "amount")
    dispute = open_dispute(
        state,
        charge,
        str(body.get("reason", "fraudulent")),
        None if amount is None else int(amount),
    )
    return json_response(dispute)


@routes.post("/_emulator/disputes/{id}/close")
async def decide_dispute(request: web.Request) -> web.Response:
    """The card network decides an open dispute: `status` won | lost."""
    state = state_of(request)
    body = await _body(request)
    dispute = get_dispute(state, request.match_info["id"])
    status = _choice(body, "status", CLOSED_STATUSES, None)
    return json_response(close_dispute(state, dispute, status))


@routes.delete("/_emulator/checkout/sessions/{id}")
async def forget_session_route(request: web.Request) -> web.Response:
    """Forget a session, as if Stripe no longer knew it: it answers `resource_missing` after."""
    session = forget_session(state_of(request), request.match_info["id"])
    return json_response({"id": session["id"], "object": "checkout.session", "deleted": True})


def _clock(state: EmulatorState) -> JsonObject:
    return {"now": state.now(), "offset": state.clock.offset}


@routes.get("/_emulator/clock")
async def read_clock(request: web.Request) -> web.Response:
    return json_response(_clock(state_of(request)))


@routes.post("/_emulator/clock/advance")
async def advance_clock(request: web.Request) -> web.Response:
    """Add `seconds` to the emulator's now, then expire and settle whatever fell due."""
    state = state_of(request)
    seconds = _number(await _body(request), "seconds")
    if seconds is None or seconds < 0:
        raise invalid_param("seconds", "`seconds` must be a number >= 0")
    state.clock.advance(int(seconds))
    expired, settled, renewed = sweep(state)
    return json_response(
        {
            **_clock(state),
            "expired_sessions": expired,
            "settled_payments": settled,
            "renewed_periods": renewed,
        }
    )


@routes.post("/_emulator/customers/{id}/card")
async def change_card(request: web.Request) -> web.Response:
    """Give the customer a new default card (`card`: card_success | card_authentication |
    card_decline_after_attach), as the billing portal would; returns the payment method."""
    state = state_of(request)
    body = await _body(request)
    customer = get_customer(state, request.match_info["id"])
    kind = _choice(body, "card", SAVABLE_CARDS, None)
    return json_response(replace_card(state, customer, kind))


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    """Forget every object, event, idempotency key, delivery and chaos setting."""
    state_of(request).reset()
    return json_response({"reset": True})


def _mode(state: EmulatorState) -> JsonObject:
    chaos = state.dispatcher.chaos
    return {
        "mode": "normal" if chaos is None else "chaos",
        "duplicate_probability": None if chaos is None else chaos.duplicate_probability,
        "max_delay": None if chaos is None else chaos.max_delay,
        "drop_remaining": state.dispatcher.drop_remaining,
    }


@routes.get("/_emulator/webhooks/mode")
async def read_delivery_mode(request: web.Request) -> web.Response:
    return json_response(_mode(state_of(request)))


@routes.post("/_emulator/webhooks/mode")
async def set_delivery_mode(request: web.Request) -> web.Response:
    """`mode` normal | chaos; chaos takes `duplicate_probability`, `max_delay`, `seed`."""
    state = state_of(request)
    body = await _body(request)
    mode = _choice(body, "mode", ("normal", "chaos"), None)
    if mode == "normal":
        state.dispatcher.set_chaos(None)
    else:
        probability = _number(body, "duplicate_probability", 0.5)
        max_delay = _number(body, "max_delay", 0.5)
        assert probability is not None
        assert max_delay is not None
        if not 0 <= probability <= 1 or max_delay < 0:
            raise invalid_param("duplicate_probability", "probability in [0, 1], delay >= 0")
        seed = _number(body, "seed")
        state.dispatcher.set_chaos(
            ChaosMode(duplicate_probability=probability, max_delay=max_delay),
            seed=None if seed is None else int(seed),
        )
    return json_response(_mode(state))


@routes.post("/_emulator/webhooks/drop")
async def drop_deliveries(request: web.Request) -> web.Response:
    """Silently lose the next `count` deliveries (never sent, never retried)."""
    state = state_of(request)
    count = _number(await _body(request), "count", 1)
    if count is None or count < 0:
        raise invalid_param("count", "`count` must be a number >= 0")
    state.dispatcher.drop_remaining = int(count)
    return json_response(_mode(state))


@routes.get("/_emulator/webhooks/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Delivery attempts, oldest first; filter with `event_id`, `event_type`, `outcome`, `url`."""
    state = state_of(request)
    filters = {
        name: request.query[name]
        for name in ("event_id", "event_type", "outcome", "url")
        if name in request.query
    }
    data = [
        attempt.as_json()
        for attempt in state.dispatcher.attempts
        if all(str(getattr(attempt, name)) == value for name, value in filters.items())
    ]
    return json_response({"object": "list", "data": data})


@routes.get("/_emulator/webhooks/targets")
async def list_targets(request: web.Request) -> web.Response:
    """Where events go: configured URLs and enabled WebhookEndpoints (never the secrets)."""
    targets = state_of(request).all_webhook_targets()
    return json_response(
        {
            "data": [
                {
                    "url": t.url,
                    "endpoint_id": t.endpoint_id,
                    "enabled_events": list(t.enabled_events),
                }
                for t in targets
            ]
        }
    )
