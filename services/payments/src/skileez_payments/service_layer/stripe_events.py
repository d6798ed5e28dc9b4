"""What a Stripe event or a retrieved Checkout Session does to a payment: the fulfil-once code.

The webhook, the success page and reconciliation all come through here. Each event is
recorded once (a concurrent duplicate waits on its primary key, then finds it taken), and the
payment row is locked while it moves, so whichever path comes first wins and the rest are
no-ops.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import ValidationError

from skileez_payments.adapters import stripe_objects
from skileez_payments.domain.errors import RefundCurrencyMismatch
from skileez_payments.domain.payment import (
    Charge,
    DisputeOutcome,
    Payment,
    PaymentStatus,
    SessionOutcome,
)
from skileez_payments.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

CHECKOUT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
OBJECT_OF: dict[str, type[stripe_objects.StripeModel]] = {
    **dict.fromkeys(CHECKOUT_EVENTS, stripe_objects.CheckoutSession),
    "payment_intent.payment_failed": stripe_objects.PaymentIntent,
    "charge.refunded": stripe_objects.Charge,
    "charge.dispute.created": stripe_objects.Dispute,
    "charge.dispute.closed": stripe_objects.Dispute,
    "charge.dispute.funds_withdrawn": stripe_objects.Dispute,
    "charge.dispute.funds_reinstated": stripe_objects.Dispute,
}
"""The events payments acts on, and the object each carries."""
HANDLED_EVENTS = tuple(OBJECT_OF)

PAYMENT_INTENT_EVENTS = ("charge.refunded", "charge.dispute.created", "charge.dispute.closed")
"""Events that find their payment by its PaymentIntent alone. One that arrives before its
payment is linked to that intent is recorded "unmatched": the payment applies it when Stripe
has taken its money (paid or held), and reconciliation retries it."""

DISPUTE_FUNDS_EVENTS = ("charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")
"""Money moving with a dispute: recorded (and logged), the dispute's opening and closing
being what moves the payment."""

CLOSED_DISPUTE_OUTCOMES = {
    "won": DisputeOutcome.WON,
    "warning_closed": DisputeOutcome.WON,  # an inquiry closed without a chargeback
    "lost": DisputeOutcome.LOST,
}

Clock = Callable[[], datetime]

VerifiedEvent = tuple[stripe_objects.Event, bytes]
"""A Stripe event whose signature was checked, with the raw body it came in."""


async def process_stripe_event(
    event: stripe_objects.Event,
    uow: UnitOfWork,
    *,
    payload: bytes,
    source: str,
    livemode: bool,
    clock: Clock,
) -> str:
    """Record the event once and apply it; the outcome is stored with it and returned.
    Raises `PaymentNotReady` when it must be retried later (the caller's transaction rolls back,
    the event record with it)."""
    if not await uow.record_stripe_event(event, payload, source):
        return "duplicate"
    outcome = await _outcome_of(uow, event, livemode, clock)
    if outcome != "processed":
        await uow.set_event_outcome(event.id, outcome, _waits_for(event, outcome))
    return outcome


async def retry_unmatched_stripe_event(
    event: stripe_objects.Event, uow: UnitOfWork, *, livemode: bool, clock: Clock
) -> str:
    """Apply again an event recorded "unmatched"; its new outcome is stored and returned
    ("unmatched" again if its payment is still unknown, "duplicate" if it is not unmatched any
    more). Raises `PaymentNotReady` like `process_stripe_event`."""
    await uow.lock_payment_intents([_intent_of(event)])  # before the event's row, as everywhere
    if not await uow.claim_unmatched_stripe_event(event.id):
        return "duplicate"
    outcome = await _outcome_of(uow, event, livemode, clock)
    if outcome != "unmatched":
        await uow.set_event_outcome(event.id, outcome)
    return outcome


async def record_waiting_stripe_event(
    event: stripe_objects.Event, uow: UnitOfWork, *, payload: bytes, source: str
) -> bool:
    """Record a refund or dispute that cannot be applied yet as "unmatched", waiting for its
    PaymentIntent: applied when that payment has Stripe's money, listed for operators
    meanwhile. False if the event was recorded already."""
    if not await uow.record_stripe_event(event, payload, source):
        return False
    await uow.set_event_outcome(event.id, "unmatched", _intent_of(event))
    return True


async def _outcome_of(
    uow: UnitOfWork, event: stripe_objects.Event, livemode: bool, clock: Clock
) -> str:
    expected = OBJECT_OF.get(event.type)
    if expected is None:
        return "ignored"
    if not isinstance(event.data.object, expected):
        log.error(
            "Stripe event %s (%s) carries an object that is not a readable %s",
            event.id,
            event.type,
            expected.__name__,
        )
        return "unreadable"
    return await _apply(uow, event, livemode, clock)


async def _apply(uow: UnitOfWork, event: stripe_objects.Event, livemode: bool, clock: Clock) -> str:
    """Apply an event whose object is the one its type carries (`OBJECT_OF`)."""
    obj = event.data.object
    if isinstance(obj, stripe_objects.CheckoutSession):
        failed = event.type == "checkout.session.async_payment_failed"
        payment = await settle_checkout_session(
            obj, uow, livemode=livemode, clock=clock, causation_id=event.id, failed=failed
        )
        return _outcome(payment)
    if isinstance(obj, stripe_objects.PaymentIntent):
        payment = await _by_intent(uow, obj.id, obj.metadata.get("payment_id"))
        if payment is not None:
            payment.link_payment_intent(obj.id)
            payment.mark_failed(obj.failure_reason, clock())
    elif isinstance(obj, stripe_objects.Charge | stripe_objects.Dispute):
        if (mismatch := _livemode_mismatch(event, obj, livemode)) is not None:
            return mismatch
        if event.type in DISPUTE_FUNDS_EVENTS:
            log.warning("Stripe event %s: %s of dispute %s", event.id, event.type, obj.id)
            return "recorded"
        payment = await _by_intent(uow, obj.payment_intent, None)
        if payment is None:
            return "unmatched"
        if isinstance(obj, stripe_objects.Charge):
            try:
                payment.check_refund_currency(obj.currency)
            except RefundCurrencyMismatch as other_currency:
                log.error("%s", other_currency)
                return other_currency.code
            payment.record_refunds(obj.amount_refunded, obj.latest_refund_id, clock())
        elif event.type == "charge.dispute.created":
            payment.open_dispute(
                obj.id,
                payment.amount if obj.amount is None else obj.amount,
                obj.currency or payment.currency,
                obj.reason or "unknown",
                clock(),
            )
            log.warning("payment %s is disputed (%s): %s", payment.id, obj.id, obj.reason)
        else:
            outcome = CLOSED_DISPUTE_OUTCOMES.get(obj.status or "")
            if outcome is None:
                log.error("dispute %s closed with a status we do not know: %s", obj.id, obj.status)
                return "unknown_dispute_status"
            payment.close_dispute(obj.id, outcome, clock())
            log.warning("dispute %s of payment %s closed: %s", obj.id, payment.id, outcome)
        uow.save(payment, causation_id=event.id)
        return "processed"
    else:
        return "ignored"  # a kind OBJECT_OF names and this function does not (none today)
    if payment is not None:
        uow.save(payment, causation_id=event.id)
    return _outcome(payment)


def _livemode_mismatch(
    event: stripe_objects.Event,
    obj: stripe_objects.Charge | stripe_objects.Dispute,
    livemode: bool,
) -> str | None:
    """A refund or dispute of the other mode (live for a test key, or the reverse) is never
    applied: recorded with this outcome, and listed for operators."""
    if event.livemode == livemode and obj.livemode in (None, livemode):
        return None
    log.error("Stripe event %s (%s) of the other mode: not applied", event.id, event.type)
    return "livemode_mismatch"


async def lock_payments_ahead(events: Sequence[stripe_objects.Event], uow: UnitOfWork) -> None:
    """Take at once, in one statement per kind, the locks that applying `events` takes one by
    one (intents, then payments with their contracts), and read the events waiting for their
    sessions' intents: two groups then never wait on each other in a cycle."""
    await uow.lock_payment_intents([_intent_of(event) for event in events])
    sessions: set[str] = set()
    intents: set[str] = set()
    ids: set[uuid.UUID] = set()
    for event in events:
        session_id, intent_id, payment_id = _payment_keys(event)
        if session_id:
            sessions.add(session_id)
        if intent_id:
            intents.add(intent_id)
        with contextlib.suppress(ValueError, TypeError):  # not a payment id of ours
            ids.add(uuid.UUID(payment_id))
    await uow.payments.lock(sessions=sessions, intents=intents, ids=ids)
    settled_intents = {
        obj.payment_intent
        for event in events
        if isinstance(obj := event.data.object, stripe_objects.CheckoutSession)
        and obj.payment_intent
    }
    await uow.read_waiting_stripe_events(settled_intents)


def _payment_keys(event: stripe_objects.Event) -> tuple[str | None, str | None, str | None]:
    """(Checkout Session, PaymentIntent, payment id) by which `_apply` looks up the payment."""
    obj = event.data.object
    if not isinstance(obj, OBJECT_OF.get(event.type, ())):
        return None, None, None  # not applied
    if isinstance(obj, stripe_objects.CheckoutSession):
        return obj.id, None, obj.metadata.get("payment_id")
    if isinstance(obj, stripe_objects.PaymentIntent):
        return None, obj.id, obj.metadata.get("payment_id")
    if isinstance(obj, stripe_objects.Charge | stripe_objects.Dispute):
        return None, obj.payment_intent, None
    return None, None, None


def _intent_of(event: stripe_objects.Event) -> str | None:
    """The PaymentIntent of the event's object (of a Checkout Session: the one it paid with)."""
    obj = event.data.object
    if isinstance(obj, stripe_objects.PaymentIntent):
        return obj.id
    if isinstance(
        obj, stripe_objects.CheckoutSession | stripe_objects.Charge | stripe_objects.Dispute
    ):
        return obj.payment_intent
    return None


def _waits_for(event: stripe_objects.Event, outcome: str) -> str | None:
    """The PaymentIntent an unmatched refund or dispute waits for."""
    if outcome == "unmatched" and event.type in PAYMENT_INTENT_EVENTS:
        return _intent_of(event)
    return None


def _outcome(payment: Payment | None) -> str:
    if payment is None:
        return "unmatched"
    return "held" if payment.status is PaymentStatus.HELD_FOR_REVIEW else "processed"


async def settle_checkout_session(
    session: stripe_objects.CheckoutSession,
    uow: UnitOfWork,
    *,
    livemode: bool,
    clock: Clock,
    causation_id: str | None,
    failed: bool = False,
) -> Payment | None:
    """Move the session's payment to what the session says; None if the session is not ours.

    `failed` is set for `async_payment_failed`, whose session still reads `complete`/`unpaid`.
    The payment's changes and its integration events are staged, caused by `causation_id`.
    A payment whose money Stripe has now taken (paid or held) then applies the refunds and
    disputes that wait for its PaymentIntent, each caused by its own event.
    """
    await uow.lock_payment_intents([session.payment_intent])
    payment = await uow.payments.by_checkout_session(session.id)
    if payment is None:
        # The webhook can beat the commit that attaches the session id to the attempt.
        payment = await _by_id(uow, session.metadata.get("payment_id"))
        if payment is None:
            return None
        payment.link_checkout_session(session.id)
    payment.link_payment_intent(session.payment_intent)
    had_charge = payment.has_charge
    said = SessionOutcome.of(session.status, session.payment_status, failed=failed)
    # The payment was locked with its contract's row: two attempts paid at once are judged one
    # after the other, and the second sees the first's money.
    paid_by = cancelled = None
    if said is SessionOutcome.PAID:
        paid_by = await uow.payments.paid_attempt_of(payment.contract_id, excluding=payment.id)
        cancelled = await uow.cancellations.get(payment.contract_id)
    charge = Charge(
        amount=session.amount_total, currency=session.currency, livemode=session.livemode
    )
    payment.settle(
        said,
        charge,
        livemode,
        clock(),
        contract_paid_by=paid_by,
        contract_cancelled=cancelled is not None,
    )
    uow.save(payment, causation_id=causation_id)
    if session.payment_intent and payment.has_charge and not had_charge:
        for payload in await uow.waiting_stripe_events(session.payment_intent):
            try:
                waiting = stripe_objects.Event.model_validate_json(payload)
            except ValidationError as error:  # stored by an older reading: never block the payment
                log.error("a Stripe event waiting for %s is unreadable: %s", payment.id, error)
                continue
            outcome = await _outcome_of(uow, waiting, livemode, clock)
            await uow.set_event_outcome(waiting.id, outcome, _waits_for(waiting, outcome))
            uow.count_waited(outcome)
            log.warning(
                "Stripe event %s (%s) waited for %s: %s",
                waiting.id,
                waiting.type,
                payment.id,
                outcome,
            )
    return payment


async def _by_intent(
    uow: UnitOfWork, payment_intent_id: str | None, payment_id: str | None
) -> Payment | None:
    if payment_intent_id is not None:
        await uow.lock_payment_intents([payment_intent_id])
        payment = await uow.payments.by_payment_intent(payment_intent_id)
        if payment is not None:
            return payment
    return await _by_id(uow, payment_id)


async def _by_id(uow: UnitOfWork, payment_id: str | None) -> Payment | None:
    try:
        return await uow.payments.get(uuid.UUID(payment_id), lock=True) if payment_id else None
    except ValueError:
        return None
