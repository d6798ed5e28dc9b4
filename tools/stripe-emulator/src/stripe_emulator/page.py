"""The hosted checkout page: plain HTML forms a person (or a test) can use without JavaScript."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from stripe_emulator.checkout import expire_due_sessions
from stripe_emulator.currency import format_amount
from stripe_emulator.payments import PaymentMethod, PaymentOutcome, pay_session
from stripe_emulator.state import state_of
from stripe_emulator.wire import JsonObject

routes = web.RouteTableDef()

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("stripe_emulator", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)

DEFAULT_METHOD = PaymentMethod.CARD_SUCCESS.value


def success_redirect(session: JsonObject) -> str | None:
    """`success_url` with `{CHECKOUT_SESSION_ID}` replaced, as Checkout redirects."""
    url = session["success_url"]
    if url is None:
        return None
    return str(url).replace("{CHECKOUT_SESSION_ID}", session["id"])


def _render(
    session: JsonObject,
    items: list[JsonObject],
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    method: str = DEFAULT_METHOD,
    email: str | None = None,
) -> web.Response:
    code = session["currency"]
    context: dict[str, Any] = {
        "title": "Pay " + format_amount(session["amount_total"], code)
        if session["status"] == "open"
        else "Checkout",
        "items": [
            {
                "description": item["description"],
                "quantity": item["quantity"],
                "unit": format_amount(item["price"]["unit_amount"], code),
                "total": format_amount(item["amount_total"], code),
            }
            for item in items
        ],
        "total": format_amount(session["amount_total"], code),
        "payable": session["status"] == "open",
        "action": f"/c/pay/{session['id']}",
        "cancel_url": session["cancel_url"] if session["status"] == "open" else None,
        "error": error,
        "notice": notice,
        "method": method,
        "email": email or session["customer_email"],
    }
    html = _templates.get_template("checkout.html").render(context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _closed_notice(session: JsonObject) -> str:
    if session["status"] == "expired":
        return "This checkout session has expired. Return to the merchant to start again."
    if session["payment_status"] == "paid":
        return "This order has been paid. Thank you!"
    return "Your order is placed; the payment is processing and will be confirmed later."


def _session_or_404(request: web.Request) -> tuple[JsonObject, list[JsonObject]]:
    state = state_of(request)
    expire_due_sessions(state)  # a page must never offer to pay a session past `expires_at`
    session_id = request.match_info["id"]
    session = state.store.sessions.get(session_id)
    if session is None:
        raise web.HTTPNotFound(text="No such checkout session.", content_type="text/plain")
    return session, state.store.line_items.get(session_id, [])


@routes.get("/c/pay/{id}")
async def checkout_page(request: web.Request) -> web.Response:
    session, items = _session_or_404(request)
    notice = None if session["status"] == "open" else _closed_notice(session)
    return _render(session, items, notice=notice)


@routes.post("/c/pay/{id}")
async def submit_payment(request: web.Request) -> web.StreamResponse:
    """Pay with the chosen method; 303 to `success_url`, or the page again with the decline."""
    state = state_of(request)
    session, items = _session_or_404(request)
    if session["status"] != "open":
        return _render(session, items, status=409, notice=_closed_notice(session))
    form = await request.post()
    raw_method = str(form.get("method", DEFAULT_METHOD))
    email = str(form.get("email", "")).strip() or None
    try:
        method = PaymentMethod(raw_method)
    except ValueError:
        return _render(session, items, status=400, error="Choose a payment method.", email=email)
    outcome = pay_session(state, session, method, email)
    if outcome is PaymentOutcome.DECLINED:
        return _render(
            session,
            items,
            status=402,
            error="Your card was declined.",
            method=method.value,
            email=email,
        )
    target = success_redirect(session)
    if target is None:
        return _render(session, items, notice=_closed_notice(session))
    raise web.HTTPSeeOther(location=target)
