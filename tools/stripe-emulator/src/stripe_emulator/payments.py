"""Paying a Checkout Session: PaymentIntents, Charges, declines and delayed settlement."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web

from stripe_emulator.checkout import expire_session, unpayable_reason
from stripe_emulator.expand import expand
from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.objects import (
    build_charge,
    build_payment_intent,
    customer_details,
    new_id,
    payment_method_details,
)
from stripe_emulator.state import EmulatorState, RequestOrigin, state_of
from stripe_emulator.store import PendingSettlement, newest_first
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


class PaymentMethod(StrEnum):
    """What the customer pays with on the hosted page (or the control API picks)."""

    CARD_SUCCESS = "card_success"  # 4242 4242 4242 4242
    CARD_DECLINE = "card_decline"  # 4000 0000 0000 0002
    CARD_AUTHENTICATION = "card_authentication"  # 4000 0027 6000 3184, 3-D Secure passed
    CARD_DECLINE_AFTER_ATTACH = "card_decline_after_attach"  # 4000 0000 0000 0341
    DELAYED_SUCCESS = "delayed_success"  # SEPA debit that later succeeds
    DELAYED_FAILURE = "delayed_failure"  # SEPA debit that later fails


class PaymentOutcome(StrEnum):
    PAID = "paid"
    DECLINED = "declined"
    PROCESSING = "processing"


# The control API's refusal to pay a completed or expired session (the emulator's code: Stripe
# has no API that pays a hosted Checkout Session; its page says the session is not active).
SESSION_NOT_PAYABLE = "checkout_session_not_open"

DECLINE = ("card_declined", "Your card was declined.", "generic_decline")
# What a charge with each kind of payment method does when the customer is present.
CHARGE_STATUS = {
    "card_success": "succeeded",
    "card_authentication": "succeeded",
    "card_decline": "failed",
    "card_decline_after_attach": "failed",
    "sepa_debit": "pending",
}
DEBIT_FAILURE = (
    "insufficient_funds",
    "The customer's account has insufficient funds to cover this payment.",
    "insufficient_funds",
)


def _intent_for(state: EmulatorState, session: JsonObject, email: str | None) -> JsonObject:
    """The session's PaymentIntent, created on the first attempt as Checkout does."""
    existing = state.store.payment_intents.get(session["payment_intent"] or "")
    if existing is not None:
        return existing
    data = state.store.intent_data.get(session["id"], {})
    intent = build_payment_intent(
        created=state.now(),
        amount=session["amount_total"],
        currency=session["currency"],
        metadata=dict(data.get("metadata") or {}),
        receipt_email=email,
        payment_method_types=list(session["payment_method_types"]),
    )
    intent["description"] = data.get("description")
    intent["customer"] = session["customer"]
    state.store.payment_intents[intent["id"]] = intent
    session["payment_intent"] = intent["id"]
    state.emit("payment_intent.created", intent)
    return intent


def _last_payment_error(charge: JsonObject, failure: tuple[str, str, str]) -> JsonObject:
    return {
        "charge": charge["id"],
        "code": failure[0],
        "decline_code": failure[2],
        "doc_url": f"https://stripe.com/docs/error-codes/{failure[0].replace('_', '-')}",
        "message": failure[1],
        "payment_method": {"id": charge["payment_method"], "object": "payment_method"},
        "type": "card_error"
        if charge["payment_method_details"]["type"] == "card"
        else "invalid_request_error",
    }


def complete_session(
    state: EmulatorState, session: JsonObject, email: str | None, paid: bool
) -> None:
    """The session is done (paid, or a delayed payment under way): checkout.session.completed."""
    session["status"] = "complete"
    session["payment_status"] = "paid" if paid else "unpaid"
    session["customer_details"] = customer_details(email)
    session["url"] = None
    state.emit("checkout.session.completed", session)


def require_payable(state: EmulatorState, session: JsonObject) -> None:
    """Refuse to take money for a session that is not open (expiring it if it is past due)."""
    if session["status"] == "open" and session["expires_at"] <= state.now():
        expire_session(state, session)  # the sweeper had not got to it yet
    reason = unpayable_reason(state, session)
    if reason is not None:
        raise StripeError(
            400,
            f"This Checkout Session is `{session['status']}` and cannot be paid: {reason}",
            code=SESSION_NOT_PAYABLE,
            param="session",
        )


def payment_kind(method: PaymentMethod) -> str:
    """The payment method details a method charges with: a card of CARDS or `sepa_debit`."""
    delayed = (PaymentMethod.DELAYED_SUCCESS, PaymentMethod.DELAYED_FAILURE)
    return "sepa_debit" if method in delayed else method.value


def charge_intent(
    state: EmulatorState,
    intent: JsonObject,
    kind: str,
    payment_method: str,
    email: str | None,
    origin: RequestOrigin | None = None,
) -> str:
    """Charge `intent` with a `kind` of payment method (3-D Secure, if asked, passed), emitting the
    charge's and the intent's events; returns the charge's status."""
    status = CHARGE_STATUS[kind]
    charge = build_charge(
        created=state.now(),
        intent=intent,
        status=status,
        details=payment_method_details(kind, intent["amount"]),
        payment_method=payment_method,
        email=email,
        failure=DECLINE if status == "failed" else None,
    )
    charge["customer"] = intent["customer"]
    charge["description"] = intent["description"]
    state.store.charges[charge["id"]] = charge
    intent["latest_charge"] = charge["id"]
    intent["payment_method"] = payment_method
    intent["receipt_email"] = email
    intent["next_action"] = None

    if status == "failed":
        intent["status"] = "requires_payment_method"
        intent["payment_method"] = None
        intent["last_payment_error"] = _last_payment_error(charge, DECLINE)
        state.emit("charge.failed", charge, origin=origin)
        state.emit("payment_intent.payment_failed", intent, origin=origin)
        return status

    intent["last_payment_error"] = None
    if status == "succeeded":
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        state.emit("charge.succeeded", charge, origin=origin)
        state.emit("payment_intent.succeeded", intent, origin=origin)
        return status

    intent["status"] = "processing"
    intent["processing"] = None
    state.emit("charge.pending", charge, origin=origin)
    state.emit("payment_intent.processing", intent, origin=origin)
    return status


def pay_session(
    state: EmulatorState,
    session: JsonObject,
    method: PaymentMethod,
    email: str | None = None,
) -> PaymentOutcome:
    """Pay an open `payment`-mode session the way the hosted page would, emitting the events."""
    require_payable(state, session)
    email = email or session["customer_email"]
    intent = _intent_for(state, session, email)
    status = charge_intent(state, intent, payment_kind(method), new_id("pm_"), email)
    if status == "failed":
        return PaymentOutcome.DECLINED
    if status == "succeeded":
        complete_session(state, session, email, paid=True)
        return PaymentOutcome.PAID
    complete_session(state, session, email, paid=False)
    delay = state.settings.async_settlement_delay
    state.store.settlements[intent["id"]] = PendingSettlement(
        payment_intent=intent["id"],
        session=session["id"],
        succeed=method == PaymentMethod.DELAYED_SUCCESS,
        due_at=None if delay is None else state.now() + delay,
    )
    return PaymentOutcome.PROCESSING


def settle_payment(
    state: EmulatorState,
    payment_intent_id: str,
    succeed: bool,
    origin: RequestOrigin | None = None,
) -> JsonObject:
    """Finish a pending delayed payment; returns the session."""
    settlement = state.store.settlements.pop(payment_intent_id, None)
    if settlement is None:
        raise StripeError(
            400,
            f"PaymentIntent {payment_intent_id} has no pending delayed payment to settle.",
            param="payment_intent",
        )
    intent = state.store.payment_intents[settlement.payment_intent]
    session = state.store.sessions[settlement.session]
    charge = state.store.charges[intent["latest_charge"]]
    if succeed:
        charge.update(
            status="succeeded",
            paid=True,
            captured=True,
            amount_captured=charge["amount"],
            balance_transaction=new_id("txn_"),
            outcome={
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": None,
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
        )
        intent.update(status="succeeded", amount_received=intent["amount"])
        session["payment_status"] = "paid"
        state.emit("charge.succeeded", charge, origin=origin)
        state.emit("payment_intent.succeeded", intent, origin=origin)
        state.emit("checkout.session.async_payment_succeeded", session, origin=origin)
    else:
        code, message, _ = DEBIT_FAILURE
        charge.update(status="failed", failure_code=code, failure_message=message)
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            last_payment_error=_last_payment_error(charge, DEBIT_FAILURE),
        )
        state.emit("charge.failed", charge, origin=origin)
        state.emit("payment_intent.payment_failed", intent, origin=origin)
        state.emit("checkout.session.async_payment_failed", session, origin=origin)
    return session


def settle_due_payments(state: EmulatorState) -> int:
    """Settle delayed payments whose settlement time has come on the emulator clock."""
    now = state.now()
    due = [s for s in state.store.settlements.values() if s.due_at is not None and s.due_at <= now]
    for settlement in due:
        settle_payment(state, settlement.payment_intent, settlement.succeed)
    return len(due)


def get_charge(state: EmulatorState, charge_id: str, param: str = "charge") -> JsonObject:
    charge = state.store.charges.get(charge_id)
    if charge is None:
        raise no_such("charge", charge_id, param)
    return charge


@routes.get("/v1/payment_intents/{id}")
async def retrieve_payment_intent_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand", "client_secret"))
    intent = state.store.payment_intents.get(request.match_info["id"])
    if intent is None:
        raise no_such("payment_intent", request.match_info["id"], "intent")
    return json_response(expand(state.store, intent, params))


@routes.get("/v1/payment_intents")
async def list_payment_intents_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "created"))
    created = created_filter(params)
    intents = [i for i in newest_first(state.store.payment_intents) if created(i["created"])]
    page = paginate(intents, params, "/v1/payment_intents")
    return json_response(expand(state.store, page, params))


@routes.get("/v1/charges/{id}")
async def retrieve_charge_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    charge = get_charge(state, request.match_info["id"])
    return json_response(expand(state.store, charge, params))


@routes.get("/v1/charges")
async def list_charges_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "created", "payment_intent"))
    intent = get_str(params, "payment_intent")
    created = created_filter(params)
    charges = [
        c
        for c in newest_first(state.store.charges)
        if (intent is None or c["payment_intent"] == intent) and created(c["created"])
    ]
    page = paginate(charges, params, "/v1/charges")
    return json_response(expand(state.store, page, params))
