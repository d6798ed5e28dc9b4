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

from skileez_payments.adapters import stripe_objects as so
from skileez_payments.domain.payment import PAID_STATUSES, Charge, Payment, PaymentStatus
from skileez_payments.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

CHECKOUT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
OBJECT_OF: dict[str, type[so.StripeModel]] = {
    **dict.fromkeys(CHECKOUT_EVENTS, so.CheckoutSession),
    "payment_intent.payment_failed": so.PaymentIntent,
    "charge.refunded": so.Charge,
    "charge.dispute.created": so.Dispute,
}
"""The events payments acts on, and the object each carries."""
HANDLED_EVENTS = tuple(OBJECT_OF)

PAYMENT_INTENT_EVENTS = ("charge.refunded", "charge.dispute.created")
"""Events that find their payment by its PaymentIntent alone. One that arrives before the event
that links its intent to a payment (a refund made at Stripe while our webhook was failing,
delivered before the payment's completion) finds none and is recorded "unmatched", waiting for
that intent: the payment applies it in the transaction that makes it paid
(`settle_checkout_session`), and reconciliation tries it again on each pass that reads it
(`retry_unmatched_stripe_event`)."""

Clock = Callable[[], datetime]


async def process_stripe_event(
    uow: UnitOfWork,
    event: so.Event,
    payload: bytes,
    *,
    source: str,
    livemode: bool,
    clock: Clock,
) -> str:
    """Record the event once and apply it; the outcome is stored with it and returned.

    Raises `PaymentNotReady` (the event must be retried later) and lets database errors
    through: the caller's transaction then rolls back, the event record with it. The payment's
    changes and its integration events are staged: an error writing them fails the commit.
    """
    if not await uow.record_stripe_event(event, payload, source):
        return "duplicate"
    outcome = await _outcome_of(uow, event, livemode, clock)
    if outcome != "processed":
        await uow.set_event_outcome(event.id, outcome, _waits_for(event, outcome))
    return outcome


async def retry_unmatched_stripe_event(
    uow: UnitOfWork, event: so.Event, *, livemode: bool, clock: Clock
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


async def _outcome_of(uow: UnitOfWork, event: so.Event, livemode: bool, clock: Clock) -> str:
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


async def _apply(uow: UnitOfWork, event: so.Event, livemode: bool, clock: Clock) -> str:
    """Apply an event whose object is the one its type carries (`OBJECT_OF`)."""
    obj = event.data.object
    if isinstance(obj, so.CheckoutSession):
        failed = event.type == "checkout.session.async_payment_failed"
        payment = await settle_checkout_session(
            uow, obj, livemode=livemode, clock=clock, causation_id=event.id, failed=failed
        )
        return _outcome(payment)
    if isinstance(obj, so.PaymentIntent):
        payment = await _by_intent(uow, obj.id, obj.metadata.get("payment_id"))
        if payment is not None:
            payment.link_payment_intent(obj.id)
            payment.mark_failed(obj.failure_reason, clock())
    elif isinstance(obj, so.Charge):
        payment = await _by_intent(uow, obj.payment_intent, None)
        if payment is not None:
            if obj.currency != payment.currency:
                log.error("refund of %s in %s, not %s", payment.id, obj.currency, payment.currency)
                return "currency_mismatch"
            payment.record_refunds(obj.amount_refunded, obj.latest_refund_id, clock())
    elif isinstance(obj, so.Dispute):
        payment = await _by_intent(uow, obj.payment_intent, None)
        if payment is not None:
            payment.mark_disputed(clock())
            log.warning("payment %s is disputed (%s): %s", payment.id, obj.id, obj.reason)
    else:
        return "ignored"  # a kind OBJECT_OF names and this function does not (none today)
    if payment is not None:
        uow.save(payment, causation_id=event.id)
    return _outcome(payment)


async def lock_payments_ahead(uow: UnitOfWork, events: Sequence[so.Event]) -> None:
    """Take, in one statement each, the locks that applying `events` takes one by one: their
    PaymentIntents' locks, then the payments (with their contracts) it looks up by Checkout
    Session, PaymentIntent, or the payment id in the metadata; then read the events waiting for
    the intents of their Checkout Sessions. A group of events takes each kind of lock at once
    and in one order, so two groups never wait on each other in a cycle."""
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
        if isinstance(obj := event.data.object, so.CheckoutSession) and obj.payment_intent
    }
    await uow.read_waiting_stripe_events(settled_intents)


def _payment_keys(event: so.Event) -> tuple[str | None, str | None, str | None]:
    """(Checkout Session, PaymentIntent, payment id) by which `_apply` looks up the payment."""
    obj = event.data.object
    if not isinstance(obj, OBJECT_OF.get(event.type, ())):
        return None, None, None  # not applied
    if isinstance(obj, so.CheckoutSession):
        return obj.id, None, obj.metadata.get("payment_id")
    if isinstance(obj, so.PaymentIntent):
        return None, obj.id, obj.metadata.get("payment_id")
    if isinstance(obj, so.Charge | so.Dispute):
        return None, obj.payment_intent, None
    return None, None, None


def _intent_of(event: so.Event) -> str | None:
    """The PaymentIntent of the event's object (of a Checkout Session: the one it paid with)."""
    obj = event.data.object
    if isinstance(obj, so.PaymentIntent):
        return obj.id
    if isinstance(obj, so.CheckoutSession | so.Charge | so.Dispute):
        return obj.payment_intent
    return None


def _waits_for(event: so.Event, outcome: str) -> str | None:
    """The PaymentIntent an unmatched refund or dispute waits for."""
    if outcome == "unmatched" and event.type in PAYMENT_INTENT_EVENTS:
        return _intent_of(event)
    return None


def _outcome(payment: Payment | None) -> str:
    if payment is None:
        return "unmatched"
    return "held" if payment.status is PaymentStatus.HELD_FOR_REVIEW else "processed"


async def settle_checkout_session(
    uow: UnitOfWork,
    session: so.CheckoutSession,
    *,
    livemode: bool,
    clock: Clock,
    causation_id: str | None,
    failed: bool = False,
) -> Payment | None:
    """Move the session's payment to what the session says; None if the session is not ours.

    `failed` is set for `async_payment_failed`, whose session still reads `complete`/`unpaid`.
    The payment's changes and its integration events are staged, caused by `causation_id`.
    A payment that becomes paid then applies the refunds and disputes that wait for its
    PaymentIntent, each caused by its own event.
    """
    await uow.lock_payment_intents([session.payment_intent])
    payment = await uow.payments.by_checkout_session(session.id)
    if payment is None:
        # The webhook can beat the commit that attaches the session id to the attempt.
        payment = await _by_id(uow, session.metadata.get("payment_id"))
        if payment is None:
            return None
        if payment.checkout_session_id is None:
            payment.checkout_session_id = session.id
            payment.changed = True
    payment.link_payment_intent(session.payment_intent)
    was_paid = payment.status in PAID_STATUSES
    now = clock()
    charge = Charge(
        amount=session.amount_total, currency=session.currency, livemode=session.livemode
    )
    if failed:
        payment.mark_failed("async_payment_failed", now)
    elif session.status == "expired":
        payment.mark_expired(now)
    elif session.status == "complete" and session.payment_status in ("paid", "no_payment_required"):
        # The payment was locked with its contract's row, so two attempts paid at once decide
        # one after the other: the contract's paid attempts were read once that lock was
        # granted (and this transaction's own changes are in what it keeps), so the second
        # sees the first's money and is held for review, never succeeded too.
        other = await uow.payments.paid_attempt_of(payment.contract_id, excluding=payment.id)
        if other is not None:
            payment.hold_for_review(f"contract already paid by payment {other}", now)
        else:
            payment.mark_payment_paid(charge, livemode, now)
    elif session.status == "complete":
        payment.mark_processing(charge, livemode, now)
    uow.save(payment, causation_id=causation_id)
    if session.payment_intent and payment.status in PAID_STATUSES and not was_paid:
        for payload in await uow.waiting_stripe_events(session.payment_intent):
            try:
                waiting = so.Event.model_validate_json(payload)
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
