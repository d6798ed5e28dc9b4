"""Customers and their saved cards: made by Checkout in `subscription` mode or through the API
(`test_clock` attaches one to a test clock, whose frozen time is then its billing "now")."""

from __future__ import annotations

import copy

from aiohttp import web

from stripe_emulator.checkout import EMAIL
from stripe_emulator.expand import expand
from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.objects import CARDS, build_customer, build_payment_method
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_metadata,
    get_str,
    invalid_param,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

CREATE_PARAMS = ("email", "name", "description", "metadata", "test_clock", "expand")
# Cards a customer can keep: 0002 is declined when attached, the others attach.
SAVABLE_CARDS = ("card_success", "card_authentication", "card_decline_after_attach")
_KIND_BY_LAST4 = {card["last4"]: kind for kind, card in CARDS.items()}


def get_customer(state: EmulatorState, customer_id: str, param: str = "customer") -> JsonObject:
    customer = state.store.customers.get(customer_id)
    if customer is None:
        raise no_such("customer", customer_id, param)
    return customer


def billing_now(state: EmulatorState, customer: JsonObject) -> int:
    """The customer's test clock's frozen time, or the emulator's clock without one."""
    clock = state.store.test_clocks.get(customer["test_clock"] or "")
    return state.now() if clock is None else int(clock["frozen_time"])


def new_customer(
    state: EmulatorState,
    *,
    email: str | None,
    name: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    test_clock: str | None = None,
    origin: RequestOrigin | None = None,
) -> JsonObject:
    clock = state.store.test_clocks.get(test_clock or "")
    customer = build_customer(
        created=state.now() if clock is None else clock["frozen_time"],
        email=email,
        name=name,
        description=description,
        metadata=metadata or {},
        test_clock=test_clock,
    )
    state.store.customers[customer["id"]] = customer
    state.emit("customer.created", customer, origin=origin)
    return customer


def attach_card(
    state: EmulatorState, customer: JsonObject, kind: str, origin: RequestOrigin | None = None
) -> JsonObject:
    """Save a test card to the customer (payment_method.attached); 0002 is declined."""
    if kind not in SAVABLE_CARDS:
        raise StripeError(
            402,
            "Your card was declined.",
            type="card_error",
            code="card_declined",
            decline_code="generic_decline",
        )
    method = build_payment_method(
        kind=kind,
        created=billing_now(state, customer),
        customer=customer["id"],
        email=customer["email"],
    )
    state.store.payment_methods[method["id"]] = method
    state.emit("payment_method.attached", method, origin=origin)
    return method


def card_kind(state: EmulatorState, payment_method_id: str) -> str:
    """Which test card (a key of CARDS) a saved payment method is."""
    return _KIND_BY_LAST4[state.store.payment_methods[payment_method_id]["card"]["last4"]]


def replace_card(
    state: EmulatorState, customer: JsonObject, kind: str, origin: RequestOrigin | None = None
) -> JsonObject:
    """A new default card for the customer and each of its live subscriptions (as the billing
    portal does): payment_method.attached, customer.updated, customer.subscription.updated."""
    method = attach_card(state, customer, kind, origin)
    previous = {"invoice_settings": copy.deepcopy(customer["invoice_settings"])}
    customer["invoice_settings"]["default_payment_method"] = method["id"]
    state.emit("customer.updated", customer, previous_attributes=previous, origin=origin)
    for subscription in state.store.subscriptions.values():
        if subscription["customer"] == customer["id"] and subscription["status"] != "canceled":
            before = {"default_payment_method": subscription["default_payment_method"]}
            subscription["default_payment_method"] = method["id"]
            state.emit(
                "customer.subscription.updated",
                subscription,
                previous_attributes=before,
                origin=origin,
            )
    return method


@routes.post("/v1/customers")
async def create_customer_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, CREATE_PARAMS)
    clock = get_str(params, "test_clock")
    if clock is not None and clock not in state.store.test_clocks:
        raise no_such("test_helpers.test_clock", clock, "test_clock")
    email = get_str(params, "email")
    if email is not None and not EMAIL.fullmatch(email):
        raise invalid_param("email", f"Invalid email address: {email}", "email_invalid")
    customer = new_customer(
        state,
        email=email,
        name=get_str(params, "name"),
        description=get_str(params, "description"),
        metadata=get_metadata(params),
        test_clock=clock,
        origin=origin_of(request),
    )
    return json_response(expand(state.store, customer, params))


@routes.get("/v1/customers/{id}")
async def retrieve_customer_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    customer = get_customer(state, request.match_info["id"], "id")
    return json_response(expand(state.store, customer, params))


@routes.get("/v1/customers")
async def list_customers_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "email", "test_clock", "created"))
    email = get_str(params, "email")
    clock = get_str(params, "test_clock")
    created = created_filter(params)
    customers = [
        c
        for c in newest_first(state.store.customers)
        if (email is None or c["email"] == email)
        and (clock is None or c["test_clock"] == clock)
        and created(c["created"])
    ]
    page = paginate(customers, params, "/v1/customers")
    return json_response(expand(state.store, page, params))


@routes.get("/v1/payment_methods/{id}")
async def retrieve_payment_method_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    method = state.store.payment_methods.get(request.match_info["id"])
    if method is None:
        raise no_such("payment_method", request.match_info["id"])
    return json_response(expand(state.store, method, params))
