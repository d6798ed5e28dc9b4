"""Checkout Sessions: create, retrieve, list, line items and expiry."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from stripe_emulator import currency as currencies
from stripe_emulator.expand import expand
from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.objects import (
    build_checkout_session,
    build_line_item,
    build_price,
    build_product,
    new_id,
)
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_dict,
    get_int,
    get_metadata,
    get_str,
    invalid_param,
    json_response,
    missing_param,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 60 * 60
MAX_UNIT_LABEL = 12
"""Stripe's longest `product_data[unit_label]`."""
# Stripe's longest billing interval is one year.
MAX_INTERVAL_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}
CREATE_PARAMS = (
    "mode",
    "customer",
    "subscription_data",
    "line_items",
    "client_reference_id",
    "metadata",
    "payment_intent_data",
    "customer_email",
    "success_url",
    "cancel_url",
    "expires_at",
    "currency",
    "expand",
    "ui_mode",
)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def url_param(params: Mapping[str, Any], name: str) -> str | None:
    value = get_str(params, name)
    if value is not None and not re.match(r"https?://[^\s/]+", value):
        raise invalid_param(name, "Not a valid URL", "url_invalid")
    return value


def _recurring(price_data: Mapping[str, Any], prefix: str, mode: str) -> JsonObject | None:
    """`price_data[recurring]` ({interval, interval_count}): `subscription` mode only."""
    raw = get_dict(price_data, "recurring")
    if mode == "payment" and raw:
        raise invalid_param(
            f"{prefix}[recurring]",
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
        )
    if not raw:
        return None
    reject_unknown(raw, ("interval", "interval_count"), f"{prefix}[recurring]")
    interval = get_str(raw, "interval")
    if interval not in MAX_INTERVAL_COUNT:
        raise invalid_param(
            f"{prefix}[recurring][interval]",
            "Invalid recurring[interval]: must be one of day, week, month, or year",
        )
    count = get_int(raw, "interval_count", minimum=1, param=f"{prefix}[recurring][interval_count]")
    if count is not None and count > MAX_INTERVAL_COUNT[interval]:
        raise invalid_param(
            f"{prefix}[recurring][interval_count]",
            "The maximum billing interval is one year (1 year, 12 months, 52 weeks or 365 days).",
        )
    return {"interval": interval, "interval_count": count or 1}


def _line_items(
    params: Mapping[str, Any], now: int, mode: str
) -> tuple[list[JsonObject], list[JsonObject]]:
    """The session's line items, and the products Stripe makes of their `product_data`."""
    raw = params.get("line_items")
    if raw is None or raw == "":
        raise StripeError(
            400,
            f"You must specify `line_items` in `{mode}` mode.",
            code="parameter_missing",
            param="line_items",
        )
    if not isinstance(raw, list) or not raw:
        raise invalid_param("line_items", "Invalid array: line_items must be a list.")
    if len(raw) > 100:
        raise invalid_param("line_items", "A Checkout Session can have at most 100 line items.")
    items: list[JsonObject] = []
    products: list[JsonObject] = []
    for index, entry in enumerate(raw):
        prefix = f"line_items[{index}]"
        if not isinstance(entry, dict):
            raise invalid_param(prefix, f"Invalid object: {prefix} must be a hash.")
        reject_unknown(entry, ("price_data", "quantity", "price"), prefix)
        if "price" in entry:
            raise StripeError(
                400,
                f"No such price: '{entry['price']}'; the emulator only takes `price_data`.",
                code="resource_missing",
                param=f"{prefix}[price]",
            )
        quantity = get_int(entry, "quantity", required=True, param=f"{prefix}[quantity]")
        assert quantity is not None
        if quantity < 1:
            raise invalid_param(
                f"{prefix}[quantity]", "Quantity must be greater than 0.", "parameter_invalid"
            )
        price_data = entry.get("price_data")
        if not isinstance(price_data, dict):
            raise missing_param(f"{prefix}[price_data]")
        reject_unknown(
            price_data,
            ("currency", "unit_amount", "product_data", "recurring"),
            f"{prefix}[price_data]",
        )
        code = get_str(price_data, "currency")
        if code is None:
            raise missing_param(f"{prefix}[price_data][currency]")
        code = code.lower()
        if code not in currencies.SUPPORTED:
            raise invalid_param(
                f"{prefix}[price_data][currency]",
                f"Invalid currency: {code}. Stripe currently supports these currencies: "
                + ", ".join(sorted(currencies.SUPPORTED)),
                "parameter_invalid",
            )
        unit_amount = get_int(
            price_data,
            "unit_amount",
            required=True,
            minimum=0,
            param=f"{prefix}[price_data][unit_amount]",
        )
        assert unit_amount is not None
        product = get_dict(price_data, "product_data")
        reject_unknown(
            product,
            ("name", "description", "metadata", "images", "unit_label"),
            f"{prefix}[price_data][product_data]",
        )
        name = get_str(product, "name")
        if name is None:
            raise missing_param(f"{prefix}[price_data][product_data][name]")
        unit_label = get_str(product, "unit_label")
        if unit_label is not None and len(unit_label) > MAX_UNIT_LABEL:
            raise invalid_param(
                f"{prefix}[price_data][product_data][unit_label]",
                f"Invalid string: must be at most {MAX_UNIT_LABEL} characters.",
                "parameter_invalid",
            )
        made = build_product(
            name=name,
            description=get_str(product, "description"),
            unit_label=unit_label,
            created=now,
        )
        price = build_price(
            currency=code,
            unit_amount=unit_amount,
            product=made["id"],
            recurring=_recurring(price_data, f"{prefix}[price_data]", mode),
            created=now,
        )
        items.append(build_line_item(price=price, quantity=quantity, description=name))
        products.append(made)
    return items, products


def create_session(state: EmulatorState, params: Mapping[str, Any], public_base: str) -> JsonObject:
    """Validate the parameters like Stripe does and store a new open session."""
    reject_unknown(params, CREATE_PARAMS)
    now = state.now()
    mode = get_str(params, "mode", required=True)
    if mode not in ("payment", "setup", "subscription"):
        raise invalid_param("mode", "Invalid mode: must be one of payment, setup, or subscription")
    if mode == "setup":
        raise invalid_param("mode", "The emulator supports `mode=payment` and `subscription`.")
    assert mode is not None
    ui_mode = get_str(params, "ui_mode")
    if ui_mode not in (None, "hosted"):
        raise invalid_param("ui_mode", "The emulator only supports `ui_mode=hosted`.")
    items, products = _line_items(params, now, mode)
    intervals = {
        json.dumps(item["price"]["recurring"], sort_keys=True)
        for item in items
        if item["price"]["recurring"] is not None
    }
    if mode == "subscription" and not intervals:
        raise invalid_param(
            "line_items",
            "You must specify at least one recurring price in `subscription` mode when using "
            "prices.",
        )
    if len(intervals) > 1:
        raise invalid_param(
            "line_items",
            "All prices on a subscription must have the same `recurring.interval` and "
            "`recurring.interval_count`.",
        )
    code = items[0]["currency"]
    if any(item["currency"] != code for item in items):
        raise invalid_param(
            "line_items", "All line items must have the same currency.", "parameter_invalid"
        )
    requested_currency = get_str(params, "currency")
    if requested_currency is not None and requested_currency.lower() != code:
        raise invalid_param(
            "currency", f"`currency` ({requested_currency}) must match the line items ({code})."
        )
    total = sum(item["amount_total"] for item in items)
    minimum = currencies.minimum_charge(code)
    if total < minimum:
        raise StripeError(
            400,
            "The Checkout Session's total amount due must add up to at least "
            f"{currencies.format_amount(minimum, code)} {code}",
            code="amount_too_small",
            param="line_items",
        )
    if total > currencies.MAXIMUM_AMOUNT:
        raise StripeError(
            400,
            "The Checkout Session's total amount due must be no more than "
            f"{currencies.format_amount(currencies.MAXIMUM_AMOUNT, code)} {code}",
            code="amount_too_large",
            param="line_items",
        )
    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        expires_at = now + MAX_EXPIRY
    elif expires_at < now + MIN_EXPIRY:
        raise invalid_param(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
        )
    elif expires_at > now + MAX_EXPIRY:
        raise invalid_param(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )
    email = get_str(params, "customer_email")
    if email is not None and not EMAIL.fullmatch(email):
        raise invalid_param("customer_email", f"Invalid email address: {email}", "email_invalid")
    customer = get_str(params, "customer")
    if customer is not None and email is not None:
        raise StripeError(
            400, "You may only specify one of these parameters: customer, customer_email."
        )
    if customer is not None and customer not in state.store.customers:
        raise no_such("customer", customer, "customer")
    reference = get_str(params, "client_reference_id")
    if reference is not None and len(reference) > 200:
        raise invalid_param(
            "client_reference_id", "client_reference_id can be at most 200 characters."
        )
    intent_data = get_dict(params, "payment_intent_data")
    reject_unknown(intent_data, ("metadata", "description"), "payment_intent_data")
    subscription_data = get_dict(params, "subscription_data")
    reject_unknown(subscription_data, ("metadata", "description"), "subscription_data")
    if intent_data and mode != "payment":
        raise invalid_param(
            "payment_intent_data",
            "You can not pass `payment_intent_data` in `subscription` mode.",
        )
    if subscription_data and mode != "subscription":
        raise invalid_param(
            "subscription_data", "You can not pass `subscription_data` in `payment` mode."
        )
    session_id = new_id("cs_test_a1", 56)
    session = build_checkout_session(
        session_id=session_id,
        created=now,
        expires_at=expires_at,
        currency=code,
        amount_total=total,
        url=f"{public_base}/c/pay/{session_id}",
        success_url=url_param(params, "success_url"),
        cancel_url=url_param(params, "cancel_url"),
        client_reference_id=reference,
        customer_email=email,
        customer=customer,
        metadata=get_metadata(params),
        mode=mode,
    )
    state.store.sessions[session_id] = session
    state.store.line_items[session_id] = items
    state.store.products.update((product["id"], product) for product in products)
    state.store.intent_data[session_id] = {
        "metadata": get_metadata(intent_data),
        "description": get_str(intent_data, "description"),
    }
    state.store.subscription_data[session_id] = {
        "metadata": get_metadata(subscription_data),
        "description": get_str(subscription_data, "description"),
    }
    return session


def get_session(state: EmulatorState, session_id: str) -> JsonObject:
    session = state.store.sessions.get(session_id)
    if session is None:
        raise no_such("checkout.session", session_id, "session")
    return session


def expire_session(
    state: EmulatorState, session: JsonObject, origin: RequestOrigin | None = None
) -> None:
    """Close an open session (and cancel its unpaid PaymentIntent), emitting the events."""
    if session["status"] != "open":
        raise StripeError(
            400,
            'Only Checkout Sessions with a status in ["open"] can be expired. '
            f"This Checkout Session has a status of `{session['status']}`.",
        )
    session["status"] = "expired"
    session["url"] = None
    intent = state.store.payment_intents.get(session["payment_intent"] or "")
    if intent is not None and intent["status"] == "requires_payment_method":
        intent["status"] = "canceled"
        intent["canceled_at"] = state.now()
        intent["cancellation_reason"] = "abandoned"
        state.emit("payment_intent.canceled", intent, origin=origin)
    state.emit("checkout.session.expired", session, origin=origin)


def forget_session(state: EmulatorState, session_id: str) -> JsonObject:
    """Drop a session as if Stripe had never known it (its payments stay)."""
    session = get_session(state, session_id)
    del state.store.sessions[session_id]
    for item in state.store.line_items.pop(session_id, []):
        state.store.products.pop(item["price"]["product"], None)
    state.store.intent_data.pop(session_id, None)
    state.store.subscription_data.pop(session_id, None)
    for intent_id in [k for k, v in state.store.settlements.items() if v.session == session_id]:
        del state.store.settlements[intent_id]  # its pending delayed payment never settles
    return session


def unpayable_reason(state: EmulatorState, session: JsonObject) -> str | None:
    """Why `session` cannot take a payment (None while it is open), in the customer's words."""
    if session["status"] == "open":
        return None
    if session["status"] == "expired":
        return (
            "This checkout session has expired and can no longer be paid. "
            "Return to the merchant to start again."
        )
    if session["payment_status"] == "paid":
        return "This order has been paid. Thank you! It cannot be paid again."
    intent = state.store.payment_intents.get(session["payment_intent"] or "")
    if intent is not None and intent["status"] == "requires_payment_method":
        return (
            "The payment for this order failed and this checkout session can no longer be "
            "paid. Return to the merchant to try again."
        )
    return (
        "Your order is placed; the payment is processing and will be confirmed later. "
        "This checkout session cannot be paid again."
    )


def expire_due_sessions(state: EmulatorState) -> int:
    """Expire every open session whose `expires_at` has passed on the emulator clock."""
    now = state.now()
    due = [
        s for s in state.store.sessions.values() if s["status"] == "open" and s["expires_at"] <= now
    ]
    for session in due:
        expire_session(state, session)
    return len(due)


def public_base(request: web.Request) -> str:
    state = state_of(request)
    if state.settings.public_url:
        return state.settings.public_url
    return str(request.url.origin())


@routes.post("/v1/checkout/sessions")
async def create_session_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    session = create_session(state, params, public_base(request))
    return json_response(expand(state.store, session, params))


@routes.get("/v1/checkout/sessions/{id}")
async def retrieve_session_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    session = get_session(state, request.match_info["id"])
    return json_response(expand(state.store, session, params))


@routes.get("/v1/checkout/sessions")
async def list_sessions_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "payment_intent", "status", "created"))
    intent = get_str(params, "payment_intent")
    status = get_str(params, "status")
    created = created_filter(params)
    sessions = [
        s
        for s in newest_first(state.store.sessions)
        if (intent is None or s["payment_intent"] == intent)
        and (status is None or s["status"] == status)
        and created(s["created"])
    ]
    page = paginate(sessions, params, "/v1/checkout/sessions")
    return json_response(expand(state.store, page, params))


@routes.get("/v1/checkout/sessions/{id}/line_items")
async def list_line_items_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, LIST_PARAMS)
    session = get_session(state, request.match_info["id"])
    items = state.store.line_items.get(session["id"], [])
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    # Line items keep the order they were given in, unlike most lists.
    return json_response(paginate(list(items), params, url))


@routes.post("/v1/checkout/sessions/{id}/expire")
async def expire_session_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    session = get_session(state, request.match_info["id"])
    expire_session(state, session, origin_of(request))
    return json_response(expand(state.store, session, params))
