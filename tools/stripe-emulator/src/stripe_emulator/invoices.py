"""Subscription invoices: one per period, finalised and charged at once with the saved card.

A failed charge leaves the invoice `open` (`invoice.payment_failed`) and its subscription
`past_due`; a card that needs 3-D Secure off-session leaves it open with
`invoice.payment_action_required`. `POST /v1/invoices/{id}/pay` tries again with the customer's
current card. There are no automatic retries (Smart Retries) and no prorations.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiohttp import web

from stripe_emulator.currency import format_amount
from stripe_emulator.customers import billing_now, card_kind, get_customer
from stripe_emulator.expand import expand
from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.objects import (
    build_invoice,
    build_invoice_line,
    build_invoice_payment,
    build_payment_intent,
    new_id,
)
from stripe_emulator.payments import charge_intent
from stripe_emulator.state import EmulatorState, RequestOrigin, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_dict,
    get_str,
    invalid_param,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

INTENT_DESCRIPTIONS = {
    "subscription_create": "Subscription creation",
    "subscription_cycle": "Subscription update",
}


class PaymentResult(StrEnum):
    """How an attempt to pay an invoice ended."""

    PAID = "paid"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"


def get_invoice(state: EmulatorState, invoice_id: str, param: str = "invoice") -> JsonObject:
    invoice = state.store.invoices.get(invoice_id)
    if invoice is None:
        raise no_such("invoice", invoice_id, param)
    return invoice


def per_interval(recurring: JsonObject) -> str:
    """ "month", or "2 weeks" for an interval count of 2."""
    count = recurring["interval_count"]
    return recurring["interval"] if count == 1 else f"{count} {recurring['interval']}s"


def _line_description(state: EmulatorState, price: JsonObject, quantity: int) -> str:
    """Stripe's wording: quantity, times sign, product, "(at €60.00 / month)"; a one-time
    price's line is the product's name."""
    name = str(state.store.products.get(price["product"], {}).get("name", price["product"]))
    if price["recurring"] is None:
        return name
    amount = format_amount(price["unit_amount"], price["currency"])
    every = per_interval(price["recurring"])
    return f"{quantity} \N{MULTIPLICATION SIGN} {name} (at {amount} / {every})"


def invoice_intent(state: EmulatorState, invoice: JsonObject) -> JsonObject:
    """The PaymentIntent that pays `invoice` (through its invoice payment)."""
    payment = next(
        p for p in state.store.invoice_payments.values() if p["invoice"] == invoice["id"]
    )
    intent: JsonObject = state.store.payment_intents[payment["payment"]["payment_intent"]]
    return intent


def issue_invoice(
    state: EmulatorState,
    subscription: JsonObject,
    *,
    billing_reason: str,
    created: int,
    period_start: int,
    period_end: int,
    one_time: Sequence[JsonObject] = (),
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """Draft and finalise the invoice of the subscription's current period (plus the `one_time`
    Checkout line items, on the first one), with the PaymentIntent that will pay it
    (invoice.created, payment_intent.created, invoice.finalized)."""
    customer = get_customer(state, subscription["customer"])
    invoice_id = new_id("in_")
    lines = [
        build_invoice_line(
            invoice=invoice_id,
            subscription=subscription["id"],
            price=item["price"],
            quantity=item["quantity"],
            description=_line_description(state, item["price"], item["quantity"]),
            period={"start": item["current_period_start"], "end": item["current_period_end"]},
            subscription_item=item["id"],
        )
        for item in subscription["items"]["data"]
    ] + [
        build_invoice_line(
            invoice=invoice_id,
            subscription=subscription["id"],
            price=line["price"],
            quantity=line["quantity"],
            description=_line_description(state, line["price"], line["quantity"]),
            period={"start": created, "end": created},
            subscription_item=None,
        )
        for line in one_time
    ]
    invoice = build_invoice(
        invoice_id=invoice_id,
        created=created,
        customer=customer,
        subscription=subscription,
        lines=lines,
        billing_reason=billing_reason,
        period_start=period_start,
        period_end=period_end,
    )
    state.store.invoices[invoice_id] = invoice
    subscription["latest_invoice"] = invoice_id
    state.emit("invoice.created", invoice, origin=origin)

    invoice.update(
        status="open",
        number=f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}",
        effective_at=created,
        ending_balance=0,
        automatically_finalizes_at=None,
        webhooks_delivered_at=created,
    )
    invoice["status_transitions"]["finalized_at"] = created
    customer["next_invoice_sequence"] += 1
    intent = build_payment_intent(
        created=state.now(),
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        metadata={},
        receipt_email=None,
        payment_method_types=["card"],
    )
    intent.update(
        customer=customer["id"],
        description=INTENT_DESCRIPTIONS[billing_reason],
        setup_future_usage="off_session" if billing_reason == "subscription_create" else None,
    )
    state.store.payment_intents[intent["id"]] = intent
    payment = build_invoice_payment(created=created, invoice=invoice, payment_intent=intent["id"])
    state.store.invoice_payments[payment["id"]] = payment
    state.emit("payment_intent.created", intent, origin=origin)
    state.emit("invoice.finalized", invoice, origin=origin)
    return invoice


def _mark_paid(
    state: EmulatorState, invoice: JsonObject, paid_at: int, origin: RequestOrigin | None
) -> None:
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        auto_advance=False,
        next_payment_attempt=None,
    )
    invoice["status_transitions"]["paid_at"] = paid_at
    payment = next(
        p for p in state.store.invoice_payments.values() if p["invoice"] == invoice["id"]
    )
    payment["status"] = "paid"
    payment["amount_paid"] = invoice["amount_due"]
    payment["status_transitions"]["paid_at"] = paid_at
    state.emit("invoice.paid", invoice, origin=origin)
    state.emit("invoice.payment_succeeded", invoice, origin=origin)
    state.emit("invoice_payment.paid", payment, origin=origin)


def _require_action(
    state: EmulatorState, intent: JsonObject, payment_method: str, origin: RequestOrigin | None
) -> None:
    """An off-session payment the bank wants authenticated: no charge, `requires_action`."""
    intent.update(
        status="requires_action",
        payment_method=payment_method,
        last_payment_error=None,
        next_action={
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
        },
    )
    state.emit("payment_intent.requires_action", intent, origin=origin)


def _settle_subscription(
    state: EmulatorState, subscription: JsonObject, origin: RequestOrigin | None
) -> None:
    """`active` with no open invoice left (from `incomplete` or `past_due`), `past_due` with one."""
    open_invoices = any(
        i["subscription"] == subscription["id"] and i["status"] == "open"
        for i in state.store.invoices.values()
    )
    status = subscription["status"]
    if status == "canceled":
        return
    if not open_invoices:
        wanted = "active"
    elif status == "active":
        wanted = "past_due"
    else:
        wanted = status
    if wanted == status:
        return
    subscription["status"] = wanted
    get_customer(state, subscription["customer"])["delinquent"] = wanted == "past_due"
    state.emit(
        "customer.subscription.updated",
        subscription,
        previous_attributes={"status": status},
        origin=origin,
    )


def attempt_payment(
    state: EmulatorState,
    invoice: JsonObject,
    *,
    on_session: bool,
    payment_method: str | None = None,
    origin: RequestOrigin | None = None,
) -> str:
    """Charge an open invoice with `payment_method` or the subscription's (else the customer's)
    default card, update the invoice and its subscription; returns a PaymentResult."""
    subscription = state.store.subscriptions[invoice["subscription"]]
    customer = get_customer(state, invoice["customer"])
    method = (
        payment_method
        or subscription["default_payment_method"]
        or customer["invoice_settings"]["default_payment_method"]
    )
    if method is None:
        raise StripeError(
            400, "This customer has no attached payment source or default payment method."
        )
    intent = invoice_intent(state, invoice)
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    kind = card_kind(state, method)
    if kind == "card_authentication" and not on_session:
        _require_action(state, intent, method, origin)
        state.emit("invoice.payment_action_required", invoice, origin=origin)
        result = PaymentResult.REQUIRES_ACTION
    elif charge_intent(state, intent, kind, method, customer["email"], origin) == "succeeded":
        _mark_paid(state, invoice, billing_now(state, customer), origin)
        result = PaymentResult.PAID
    else:
        state.emit("invoice.payment_failed", invoice, origin=origin)
        result = PaymentResult.FAILED
    _settle_subscription(state, subscription, origin)
    return result


def pay_invoice(
    state: EmulatorState, invoice: JsonObject, params: JsonObject, origin: RequestOrigin
) -> JsonObject:
    """`POST /v1/invoices/{id}/pay`: Stripe's 402 when the card is declined or needs 3-D Secure
    (the attempt and its events happen all the same). A server call is never the customer
    authenticating, so `off_session=false` changes nothing."""
    reject_unknown(params, ("payment_method", "off_session", "expand"))
    method = get_str(params, "payment_method")
    if method is not None:
        found = state.store.payment_methods.get(method)
        if found is None or found["customer"] != invoice["customer"]:
            raise no_such("payment_method", method, "payment_method")
    off_session = get_str(params, "off_session") or "true"
    if off_session not in ("true", "false"):
        raise invalid_param("off_session", "Invalid boolean: off_session must be true or false.")
    if invoice["status"] == "paid":
        raise StripeError(400, "Invoice is already paid.", code="invoice_already_paid")
    if invoice["status"] != "open":
        raise StripeError(
            400, f"You can only pay an open invoice; this invoice is {invoice['status']}."
        )
    result = attempt_payment(state, invoice, on_session=False, payment_method=method, origin=origin)
    if result == PaymentResult.FAILED:
        raise StripeError(
            402,
            "Your card was declined.",
            type="card_error",
            code="card_declined",
            decline_code="generic_decline",
        )
    if result == PaymentResult.REQUIRES_ACTION:
        raise StripeError(
            402,
            "Payment for this invoice requires a payment method with additional authentication.",
            type="card_error",
            code="invoice_payment_intent_requires_action",
        )
    return invoice


@routes.get("/v1/invoices/{id}")
async def retrieve_invoice_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    invoice = get_invoice(state, request.match_info["id"], "id")
    return json_response(expand(state.store, invoice, params))


@routes.get("/v1/invoices/{id}/lines")
async def list_invoice_lines_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, LIST_PARAMS)
    invoice = get_invoice(state, request.match_info["id"], "id")
    lines = invoice["lines"]["data"]
    return json_response(paginate(list(lines), params, f"/v1/invoices/{invoice['id']}/lines"))


@routes.get("/v1/invoices")
async def list_invoices_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "subscription", "customer", "status", "created"))
    subscription = get_str(params, "subscription")
    customer = get_str(params, "customer")
    status = get_str(params, "status")
    created = created_filter(params)
    invoices = [
        i
        for i in newest_first(state.store.invoices)
        if (subscription is None or i["subscription"] == subscription)
        and (customer is None or i["customer"] == customer)
        and (status is None or i["status"] == status)
        and created(i["created"])
    ]
    page = paginate(invoices, params, "/v1/invoices")
    return json_response(expand(state.store, page, params))


@routes.post("/v1/invoices/{id}/pay")
async def pay_invoice_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    invoice = get_invoice(state, request.match_info["id"], "id")
    pay_invoice(state, invoice, params, origin_of(request))
    return json_response(expand(state.store, invoice, params))


@routes.get("/v1/invoice_payments/{id}")
async def retrieve_invoice_payment_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    payment = state.store.invoice_payments.get(request.match_info["id"])
    if payment is None:
        raise no_such("invoice_payment", request.match_info["id"])
    return json_response(expand(state.store, payment, params))


@routes.get("/v1/invoice_payments")
async def list_invoice_payments_route(request: web.Request) -> web.Response:
    """Filters `invoice` and `payment[type]`, `payment[payment_intent]`: from a charge's
    PaymentIntent back to the invoice it paid."""
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "invoice", "payment", "status"))
    invoice = get_str(params, "invoice")
    status = get_str(params, "status")
    payment = get_dict(params, "payment")
    reject_unknown(payment, ("type", "payment_intent"), "payment")
    intent = get_str(payment, "payment_intent")
    payments = [
        p
        for p in newest_first(state.store.invoice_payments)
        if (invoice is None or p["invoice"] == invoice)
        and (status is None or p["status"] == status)
        and (intent is None or p["payment"]["payment_intent"] == intent)
    ]
    page = paginate(payments, params, "/v1/invoice_payments")
    return json_response(expand(state.store, page, params))
