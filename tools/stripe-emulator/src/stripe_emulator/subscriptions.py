"""Subscriptions: started by paying a `subscription`-mode Checkout Session, renewed (a new
invoice, charged at once) each time a period ends on their customer's clock, and ended at
`cancel_at` (which `cancel_at_period_end` sets to the period's end) or by `DELETE`.

A fixed number of installments is a subscription whose `cancel_at` is the end of its last
period: it is charged once per period and then ends (`customer.subscription.deleted`).
Periods live on the items (`items.data[].current_period_start/end`), as in Stripe's API.
"""

from __future__ import annotations

import calendar
import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from stripe_emulator.customers import attach_card, billing_now, get_customer, new_customer
from stripe_emulator.expand import expand
from stripe_emulator.invoices import attempt_payment, issue_invoice
from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.objects import build_subscription, build_subscription_item, new_id
from stripe_emulator.payments import (
    CHARGE_STATUS,
    PaymentMethod,
    PaymentOutcome,
    complete_session,
    pay_session,
    payment_kind,
    require_payable,
)
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_dict,
    get_int,
    get_str,
    invalid_param,
    json_response,
    merged_metadata,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

DAY = 86_400
LIVE_STATUSES = ("incomplete", "active", "past_due")
LIST_STATUSES = (*LIVE_STATUSES, "canceled", "ended", "all")
UPDATE_PARAMS = (
    "cancel_at_period_end",
    "cancel_at",
    "metadata",
    "description",
    "proration_behavior",
    "expand",
)


def add_intervals(anchor: int, interval: str, count: int) -> int:
    """`anchor` plus `count` intervals, months and years counted from the anchor's day (the
    31st gives the 30th or the 28th in shorter months), as Stripe bills."""
    if interval in ("day", "week"):
        return anchor + count * (7 if interval == "week" else 1) * DAY
    start = datetime.fromtimestamp(anchor, UTC)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return int(start.replace(year=year, month=month + 1, day=day).timestamp())


def _next_boundary(subscription: JsonObject, after: int) -> int:
    """The first end of a period (counted from the billing cycle anchor) later than `after`."""
    recurring = subscription["items"]["data"][0]["price"]["recurring"]
    anchor = subscription["billing_cycle_anchor"]
    periods = 1
    while (
        end := add_intervals(anchor, recurring["interval"], periods * recurring["interval_count"])
    ) <= after:
        periods += 1
    return end


def current_period(subscription: JsonObject) -> tuple[int, int]:
    item = subscription["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def get_subscription(
    state: EmulatorState, subscription_id: str, param: str = "subscription"
) -> JsonObject:
    subscription = state.store.subscriptions.get(subscription_id)
    if subscription is None:
        raise no_such("subscription", subscription_id, param)
    return subscription


def _start(
    state: EmulatorState, session: JsonObject, customer: JsonObject, payment_method: str
) -> JsonObject:
    """A new `incomplete` subscription of the session's items (customer.subscription.created)."""
    now = billing_now(state, customer)
    subscription_id = new_id("sub_")
    items = []
    for line in state.store.line_items[session["id"]]:
        recurring = line["price"]["recurring"]
        if recurring is None:
            continue  # a one-time price: on the first invoice only
        items.append(
            build_subscription_item(
                created=now,
                subscription=subscription_id,
                price=line["price"],
                quantity=line["quantity"],
                period_start=now,
                period_end=add_intervals(now, recurring["interval"], recurring["interval_count"]),
            )
        )
    data = state.store.subscription_data.get(session["id"], {})
    subscription = build_subscription(
        subscription_id=subscription_id,
        created=now,
        customer=customer,
        currency=session["currency"],
        items=items,
        default_payment_method=payment_method,
        description=data.get("description"),
        metadata=dict(data.get("metadata") or {}),
    )
    state.store.subscriptions[subscription_id] = subscription
    customer["currency"] = customer["currency"] or session["currency"]
    state.emit("customer.subscription.created", subscription)
    return subscription


def pay_checkout_session(
    state: EmulatorState,
    session: JsonObject,
    method: PaymentMethod,
    email: str | None = None,
) -> PaymentOutcome:
    """Pay a session the way the hosted page would. In `subscription` mode: the customer (made
    unless the session named one), the card saved, the subscription and its first invoice paid,
    then checkout.session.completed with `customer`, `subscription` and `invoice` set."""
    if session["mode"] != "subscription":
        return pay_session(state, session, method, email)
    require_payable(state, session)
    kind = payment_kind(method)
    if kind == "sepa_debit":
        raise invalid_param("method", "The emulator's `subscription` mode takes cards only.")
    if CHARGE_STATUS[kind] == "failed":
        return PaymentOutcome.DECLINED  # Checkout shows the decline; nothing is made
    customer = state.store.customers.get(session["customer"] or "")
    if customer is None:
        customer = new_customer(state, email=email or session["customer_email"])
    card = attach_card(state, customer, kind)
    subscription = _start(state, session, customer, card["id"])
    now = billing_now(state, customer)
    invoice = issue_invoice(
        state,
        subscription,
        billing_reason="subscription_create",
        created=now,
        period_start=now,
        period_end=now,
        one_time=[
            line
            for line in state.store.line_items[session["id"]]
            if line["price"]["recurring"] is None
        ],
    )
    attempt_payment(state, invoice, on_session=True)  # 3-D Secure, if asked, is done on the page
    session.update(customer=customer["id"], subscription=subscription["id"], invoice=invoice["id"])
    complete_session(state, session, email or customer["email"], paid=True)
    return PaymentOutcome.PAID


def end_subscription(
    state: EmulatorState,
    subscription: JsonObject,
    at: int,
    origin: RequestOrigin | None = None,
) -> None:
    """The subscription is over (customer.subscription.deleted); its open invoices stay open."""
    subscription.update(status="canceled", ended_at=at)
    subscription["canceled_at"] = subscription["canceled_at"] or at
    details = subscription["cancellation_details"]
    details["reason"] = details["reason"] or "cancellation_requested"
    state.emit("customer.subscription.deleted", subscription, origin=origin)


def _renew(state: EmulatorState, subscription: JsonObject) -> None:
    """Start the next period (ending early at `cancel_at`) and charge its invoice."""
    previous = {
        "items": copy.deepcopy(subscription["items"]),
        "latest_invoice": subscription["latest_invoice"],
    }
    old_start, start = current_period(subscription)
    end = _next_boundary(subscription, start)
    cancel_at = subscription["cancel_at"]
    if cancel_at is not None and start < cancel_at < end:
        end = cancel_at
    for item in subscription["items"]["data"]:
        item.update(current_period_start=start, current_period_end=end)
    invoice = issue_invoice(
        state,
        subscription,
        billing_reason="subscription_cycle",
        created=start,
        period_start=old_start,
        period_end=start,
    )
    state.emit("customer.subscription.updated", subscription, previous_attributes=previous)
    attempt_payment(state, invoice, on_session=False)


def advance_subscription(state: EmulatorState, subscription: JsonObject, now: int) -> int:
    """Renew every period that ended by `now`, or end the subscription at `cancel_at`; returns
    how many periods were renewed."""
    renewed = 0
    while subscription["status"] in ("active", "past_due"):
        _, end = current_period(subscription)
        cancel_at = subscription["cancel_at"]
        if cancel_at is not None and cancel_at <= min(now, end):
            end_subscription(state, subscription, cancel_at)
            break
        if end > now:
            break
        _renew(state, subscription)
        renewed += 1
    return renewed


def advance_subscriptions(state: EmulatorState, test_clock: str | None) -> int:
    """Bring the subscriptions of the customers on `test_clock` (None: on the emulator's own
    clock) up to their clock's time; returns how many periods were renewed."""
    renewed = 0
    for subscription in list(state.store.subscriptions.values()):
        customer = state.store.customers.get(subscription["customer"])
        if customer is not None and customer["test_clock"] == test_clock:
            renewed += advance_subscription(state, subscription, billing_now(state, customer))
    return renewed


def _bool(params: Mapping[str, Any], name: str) -> bool | None:
    value = get_str(params, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid_param(name, f"Invalid boolean: {name} must be true or false.")
    return value == "true"


def update_subscription(
    state: EmulatorState,
    subscription: JsonObject,
    params: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """`cancel_at_period_end`, `cancel_at` (a time, or "" to keep it going), `metadata`,
    `description`; customer.subscription.updated with what changed. No prorations are made."""
    reject_unknown(params, UPDATE_PARAMS)
    at_period_end = _bool(params, "cancel_at_period_end")
    raw_cancel_at = params.get("cancel_at")
    cancel_at = get_int(params, "cancel_at")
    if at_period_end is not None and raw_cancel_at is not None:
        raise StripeError(
            400, "You may only specify one of these parameters: cancel_at, cancel_at_period_end."
        )
    behavior = get_str(params, "proration_behavior")
    if behavior not in (None, "none", "create_prorations", "always_invoice"):
        raise invalid_param("proration_behavior", "Invalid proration_behavior.")
    canceled = subscription["status"] == "canceled"
    if canceled and set(params) - {"metadata", "expand"}:
        raise StripeError(
            400, "A canceled subscription can only update its cancellation_details and metadata."
        )
    now = billing_now(state, get_customer(state, subscription["customer"]))
    if cancel_at is not None and cancel_at <= now:
        raise invalid_param("cancel_at", "cancel_at must be in the future.")
    changes: JsonObject = {"metadata": merged_metadata(subscription["metadata"], params)}
    if "description" in params:
        changes["description"] = get_str(params, "description")
    if at_period_end is not None:
        changes["cancel_at_period_end"] = at_period_end
        changes["cancel_at"] = current_period(subscription)[1] if at_period_end else None
    elif raw_cancel_at is not None:
        changes["cancel_at_period_end"] = False
        changes["cancel_at"] = cancel_at
    if "cancel_at" in changes and changes["cancel_at"] != subscription["cancel_at"]:
        cancelling = changes["cancel_at"] is not None
        changes["canceled_at"] = now if cancelling else None  # when it was asked for
        changes["cancellation_details"] = {
            **subscription["cancellation_details"],
            "reason": "cancellation_requested" if cancelling else None,
        }
    previous = {
        k: copy.deepcopy(subscription[k]) for k, v in changes.items() if subscription[k] != v
    }
    if not previous:
        return subscription
    subscription.update({k: changes[k] for k in previous})
    state.emit(
        "customer.subscription.updated", subscription, previous_attributes=previous, origin=origin
    )
    return subscription


def cancel_subscription(
    state: EmulatorState,
    subscription: JsonObject,
    params: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """`DELETE /v1/subscriptions/{id}`: ended now, without a final invoice or proration."""
    reject_unknown(params, ("cancellation_details", "invoice_now", "prorate", "expand"))
    details = get_dict(params, "cancellation_details")
    reject_unknown(details, ("comment", "feedback"), "cancellation_details")
    if subscription["status"] == "canceled":
        raise StripeError(
            400,
            f"The subscription {subscription['id']} has already been canceled.",
            param="subscription",
        )
    now = billing_now(state, get_customer(state, subscription["customer"]))
    subscription["canceled_at"] = now
    subscription["cancellation_details"].update(
        comment=get_str(details, "comment"),
        feedback=get_str(details, "feedback"),
        reason="cancellation_requested",
    )
    end_subscription(state, subscription, now, origin)
    return subscription


@routes.get("/v1/subscriptions/{id}")
async def retrieve_subscription_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    subscription = get_subscription(state, request.match_info["id"], "id")
    return json_response(expand(state.store, subscription, params))


@routes.post("/v1/subscriptions/{id}")
async def update_subscription_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    subscription = get_subscription(state, request.match_info["id"], "id")
    update_subscription(state, subscription, params, origin_of(request))
    return json_response(expand(state.store, subscription, params))


@routes.delete("/v1/subscriptions/{id}")
async def cancel_subscription_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    subscription = get_subscription(state, request.match_info["id"], "id")
    cancel_subscription(state, subscription, params, origin_of(request))
    return json_response(expand(state.store, subscription, params))


@routes.get("/v1/subscriptions")
async def list_subscriptions_route(request: web.Request) -> web.Response:
    """Filters `customer`, `status` (default: all but canceled), `test_clock`, `created`."""
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "customer", "status", "test_clock", "created"))
    customer = get_str(params, "customer")
    clock = get_str(params, "test_clock")
    status = get_str(params, "status")
    if status is not None and status not in LIST_STATUSES:
        raise invalid_param("status", f"Invalid status: must be one of {', '.join(LIST_STATUSES)}")
    created = created_filter(params)

    def wanted(subscription: JsonObject) -> bool:
        current: str = subscription["status"]
        if status in (None, "all"):
            return status == "all" or current != "canceled"
        if status == "ended":
            return current == "canceled"
        return current == status

    subscriptions = [
        s
        for s in newest_first(state.store.subscriptions)
        if wanted(s)
        and (customer is None or s["customer"] == customer)
        and (clock is None or s["test_clock"] == clock)
        and created(s["created"])
    ]
    page = paginate(subscriptions, params, "/v1/subscriptions")
    return json_response(expand(state.store, page, params))
