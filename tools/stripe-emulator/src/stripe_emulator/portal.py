"""The customer portal: `POST /v1/billing_portal/sessions` answers a `url` to a page where the
customer sees its subscriptions and invoices, replaces its card (then an open invoice can be
paid with `POST /v1/invoices/{id}/pay`) and cancels a subscription at the period's end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from stripe_emulator.checkout import public_base, url_param
from stripe_emulator.currency import format_amount
from stripe_emulator.customers import SAVABLE_CARDS, get_customer, replace_card
from stripe_emulator.expand import expand
from stripe_emulator.invoices import per_interval
from stripe_emulator.objects import build_portal_session, new_id
from stripe_emulator.page import render
from stripe_emulator.state import EmulatorState, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.subscriptions import current_period, update_subscription
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_str,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

DEFAULT_CONFIGURATION = "bpc_emulator_default"
CARD_CHOICES = (
    ("card_success", "Card 4242 4242 4242 4242", "Visa test card: payments succeed."),
    (
        "card_authentication",
        "Card 4000 0027 6000 3184",
        "Visa test card: every payment asks for 3-D Secure, so renewals need the customer.",
    ),
    (
        "card_decline_after_attach",
        "Card 4000 0000 0000 0341",
        "Visa test card: it is saved, then every payment is declined.",
    ),
    ("card_decline", "Card 4000 0000 0000 0002", "Visa test card: the bank refuses to save it."),
)
DONE = {
    "card": "Your card was updated. It will be used for your next payments.",
    "cancel": "Your subscription will end at the end of the current period.",
}


def _date(timestamp: int | None) -> str:
    """ "7 January 2027" (UTC)."""
    if timestamp is None:
        return ""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return f"{moment.day} {moment:%B %Y}"


def _session_or_404(request: web.Request) -> tuple[EmulatorState, JsonObject, JsonObject]:
    state = state_of(request)
    session = state.store.portal_sessions.get(request.match_info["id"])
    if session is None or session["customer"] not in state.store.customers:
        raise web.HTTPNotFound(text="No such billing portal session.", content_type="text/plain")
    return state, session, state.store.customers[session["customer"]]


def _card(state: EmulatorState, customer: JsonObject) -> str | None:
    """The card the next payment uses, as "Visa •••• 4242"."""
    live = [
        s
        for s in newest_first(state.store.subscriptions)
        if s["customer"] == customer["id"] and s["status"] != "canceled"
    ]
    method_id = (live[0]["default_payment_method"] if live else None) or customer[
        "invoice_settings"
    ]["default_payment_method"]
    method = state.store.payment_methods.get(method_id or "")
    return None if method is None else f"Visa •••• {method['card']['last4']}"


def _subscription_view(state: EmulatorState, subscription: JsonObject) -> dict[str, Any]:
    item = subscription["items"]["data"][0]
    price = item["price"]
    product = state.store.products.get(price["product"], {})
    _, end = current_period(subscription)
    if subscription["status"] == "canceled":
        when = f"Ended on {_date(subscription['ended_at'])}"
    elif subscription["cancel_at"] is not None:
        when = f"Ends on {_date(subscription['cancel_at'])}"
    else:
        when = f"Renews on {_date(end)}"
    return {
        "id": subscription["id"],
        "name": product.get("name", price["product"]),
        "price": f"{format_amount(price['unit_amount'] * item['quantity'], price['currency'])}"
        f" / {per_interval(price['recurring'])}",
        "status": subscription["status"].replace("_", " "),
        "when": when,
        "cancellable": subscription["status"] != "canceled" and subscription["cancel_at"] is None,
    }


def _page(
    request: web.Request,
    state: EmulatorState,
    session: JsonObject,
    customer: JsonObject,
    *,
    status: int = 200,
    error: str | None = None,
) -> web.Response:
    subscriptions = [
        _subscription_view(state, s)
        for s in newest_first(state.store.subscriptions)
        if s["customer"] == customer["id"]
    ]
    invoices = [
        {
            "number": i["number"],
            "date": _date(i["created"]),
            "amount": format_amount(i["amount_due"], i["currency"]),
            "status": {"open": "payment due"}.get(i["status"], i["status"]),
            "due": i["status"] == "open",
        }
        for i in newest_first(state.store.invoices)
        if i["customer"] == customer["id"] and i["status"] != "draft"
    ]
    return render(
        "portal.html",
        {
            "title": "Billing",
            "email": customer["email"],
            "card": _card(state, customer),
            "subscriptions": subscriptions,
            "invoices": invoices,
            "cards": CARD_CHOICES,
            "action": f"/p/session/{session['id']}",
            "return_url": session["return_url"],
            "notice": DONE.get(request.query.get("done", "")),
            "error": error,
        },
        status,
    )


@routes.post("/v1/billing_portal/sessions")
async def create_portal_session_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("customer", "return_url", "configuration", "locale", "expand"))
    customer = get_customer(state, get_str(params, "customer", required=True) or "")
    configuration = get_str(params, "configuration")
    if configuration not in (None, DEFAULT_CONFIGURATION):
        raise no_such("billing_portal.configuration", configuration, "configuration")
    session_id = new_id("bps_")
    session = build_portal_session(
        created=state.now(),
        customer=customer["id"],
        return_url=url_param(params, "return_url"),
        url=f"{public_base(request)}/p/session/{session_id}",
        session_id=session_id,
    )
    session["locale"] = get_str(params, "locale")
    state.store.portal_sessions[session_id] = session
    state.emit("billing_portal.session.created", session, origin=origin_of(request))
    return json_response(expand(state.store, session, params))


@routes.get("/p/session/{id}")
async def portal_page(request: web.Request) -> web.Response:
    state, session, customer = _session_or_404(request)
    return _page(request, state, session, customer)


@routes.post("/p/session/{id}/card")
async def update_card(request: web.Request) -> web.StreamResponse:
    """Save the chosen test card as the customer's (and its subscriptions') default."""
    state, session, customer = _session_or_404(request)
    kind = str((await request.post()).get("card", ""))
    if kind not in {choice[0] for choice in CARD_CHOICES}:
        return _page(request, state, session, customer, status=400, error="Choose a card.")
    if kind not in SAVABLE_CARDS:
        return _page(
            request,
            state,
            session,
            customer,
            status=402,
            error="Your card was declined. Your current card was kept.",
        )
    replace_card(state, customer, kind)
    raise web.HTTPSeeOther(location=f"/p/session/{session['id']}?done=card")


@routes.post("/p/session/{id}/subscriptions/{subscription}/cancel")
async def cancel_at_period_end(request: web.Request) -> web.StreamResponse:
    state, session, customer = _session_or_404(request)
    subscription = state.store.subscriptions.get(request.match_info["subscription"])
    if subscription is None or subscription["customer"] != customer["id"]:
        raise web.HTTPNotFound(text="No such subscription.", content_type="text/plain")
    try:
        update_subscription(state, subscription, {"cancel_at_period_end": "true"})
    except StripeError as error:
        return _page(request, state, session, customer, status=400, error=error.message)
    raise web.HTTPSeeOther(location=f"/p/session/{session['id']}?done=cancel")
