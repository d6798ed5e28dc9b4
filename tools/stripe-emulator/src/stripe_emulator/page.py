"""The hosted checkout page: plain HTML forms a person (or a test) can use without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web

from stripe_emulator.checkout import expire_due_sessions, unpayable_reason
from stripe_emulator.currency import format_amount
from stripe_emulator.invoices import per_interval
from stripe_emulator.payments import PaymentMethod, PaymentOutcome, payment_kind
from stripe_emulator.state import state_of
from stripe_emulator.subscriptions import pay_checkout_session
from stripe_emulator.wire import JsonObject

routes = web.RouteTableDef()

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("stripe_emulator", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)

DEFAULT_METHOD = PaymentMethod.CARD_SUCCESS.value
CLOSED_TITLES = {
    "expired": "This checkout session has expired",
    "complete": "This checkout session is complete",
}


@dataclass(frozen=True)
class ShownItem:
    """A line item as Checkout shows it: its product, how many (in the product's unit, when it
    has one: "4 sessions"), the price of one ("€60.00 / month" when recurring), and the line's
    total."""

    description: str
    quantity: str
    unit: str
    total: str

    @classmethod
    def of(cls, item: JsonObject, products: dict[str, JsonObject]) -> ShownItem:
        code = item["currency"]
        product = products.get(item["price"]["product"], {})
        unit = format_amount(item["price"]["unit_amount"], code)
        recurring = item["price"]["recurring"]
        return cls(
            description=item["description"],
            quantity=counted(item["quantity"], product.get("unit_label")),
            unit=unit if recurring is None else f"{unit} / {per_interval(recurring)}",
            total=format_amount(item["amount_total"], code),
        )


def counted(quantity: int, unit_label: str | None) -> str:
    """ "4 sessions" for a unit label "session"; the bare number without one."""
    if unit_label is None:
        return str(quantity)
    return f"{quantity} {unit_label}{'' if quantity == 1 else 's'}"


def success_redirect(session: JsonObject) -> str | None:
    """`success_url` with `{CHECKOUT_SESSION_ID}` replaced, as Checkout redirects."""
    url = session["success_url"]
    if url is None:
        return None
    return str(url).replace("{CHECKOUT_SESSION_ID}", session["id"])


def render(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """An HTML page of the emulator's (Stripe's hosted pages: checkout, portal)."""
    html = _templates.get_template(template).render(context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _render(
    session: JsonObject,
    items: list[ShownItem],
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    method: str = DEFAULT_METHOD,
    email: str | None = None,
    return_url: str | None = None,
) -> web.Response:
    code = session["currency"]
    payable = session["status"] == "open"
    context: dict[str, Any] = {
        "title": "Pay " + format_amount(session["amount_total"], code)
        if payable
        else CLOSED_TITLES.get(session["status"], "Checkout"),
        "items": items,
        "total": format_amount(session["amount_total"], code),
        "payable": payable,
        "action": f"/c/pay/{session['id']}",
        "cancel_url": session["cancel_url"] if payable else None,
        "return_url": None if payable else return_url,
        "error": error,
        "notice": notice,
        "method": method,
        "email": email or session["customer_email"],
        "subscription": session["mode"] == "subscription",
    }
    return render("checkout.html", context, status)


def _session_or_404(request: web.Request) -> tuple[JsonObject, list[ShownItem]]:
    """The session of the path and its line items as the page shows them."""
    state = state_of(request)
    expire_due_sessions(state)  # a page must never offer to pay a session past `expires_at`
    session_id = request.match_info["id"]
    session = state.store.sessions.get(session_id)
    if session is None:
        raise web.HTTPNotFound(text="No such checkout session.", content_type="text/plain")
    items = state.store.line_items.get(session_id, [])
    return session, [ShownItem.of(item, state.store.products) for item in items]


def _closed(
    request: web.Request, session: JsonObject, items: list[ShownItem], status: int
) -> web.Response:
    """The page of a session that cannot be paid: why, and a way back to the merchant."""
    state = state_of(request)
    intent = state.store.payment_intents.get(session["payment_intent"] or "")
    settled = session["status"] == "complete" and (
        intent is None or intent["status"] != "requires_payment_method"
    )
    return _render(
        session,
        items,
        status=status,
        notice=unpayable_reason(state, session),
        return_url=success_redirect(session) if settled else session["cancel_url"],
    )


@routes.get("/c/pay/{id}")
async def checkout_page(request: web.Request) -> web.Response:
    session, items = _session_or_404(request)
    if session["status"] != "open":
        return _closed(request, session, items, 200)
    return _render(session, items)


@routes.post("/c/pay/{id}")
async def submit_payment(request: web.Request) -> web.StreamResponse:
    """Pay with the chosen method; 303 to `success_url`, or the page again with the decline."""
    state = state_of(request)
    session, items = _session_or_404(request)
    if session["status"] != "open":  # a completed or expired session never takes money
        return _closed(request, session, items, 409)
    form = await request.post()
    raw_method = str(form.get("method", DEFAULT_METHOD))
    email = str(form.get("email", "")).strip() or None
    try:
        method = PaymentMethod(raw_method)
    except ValueError:
        return _render(session, items, status=400, error="Choose a payment method.", email=email)
    if session["mode"] == "subscription" and payment_kind(method) == "sepa_debit":
        return _render(session, items, status=400, error="Choose a card.", email=email)
    outcome = pay_checkout_session(state, session, method, email)
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
        return _closed(request, session, items, 200)
    raise web.HTTPSeeOther(location=target)
