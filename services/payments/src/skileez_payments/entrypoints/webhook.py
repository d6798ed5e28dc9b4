"""`POST /webhooks/stripe`: verify the raw body's signature, then the fulfil-once code path.

Verified events are applied in group commits (`skileez_db.group_commit`): under load, the
events arriving together share one transaction, each applied as if alone (it sees the changes
of those before it, and row locks are held to the commit), and each is answered only after
that commit. An event that fails is applied again alone and gets its own answer. A group
first records its events in one statement, takes its PaymentIntents' locks in another, locks
in a third every payment (with its contract) they will look up, in the order of the
contracts' ids, so two groups take the locks they share in one order, and reads in a fourth
the refunds and disputes waiting for its sessions' intents; each event then finds its payment
already locked (`connections.locked`), the paid attempts of those contracts are read once (for
the double-payment guard), and the payments' changes are written together at the commit.
Refunds and disputes are applied last, the rest in the order of the Stripe objects' ids.
"""

from __future__ import annotations

import logging
import time

import asyncpg
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.group_commit import GroupCommit
from skileez_payments import metrics
from skileez_payments.adapters import stripe_objects as so
from skileez_payments.adapters.webhook_signature import InvalidSignature, verify_signature
from skileez_payments.domain.payment import PaymentNotReady
from skileez_payments.entrypoints.resources import SETTINGS, api, utc_now
from skileez_payments.entrypoints.schemas import WebhookOut
from skileez_payments.service_layer.stripe_events import (
    PAYMENT_INTENT_EVENTS,
    lock_payments_ahead,
    process_stripe_event,
)
from skileez_payments.service_layer.unit_of_work import UnitOfWork
from skileez_web.problems import Problem

log = logging.getLogger(__name__)

VerifiedEvent = tuple[so.Event, bytes]
"""A Stripe event whose signature was checked, with the raw body it came in."""
WEBHOOKS = web.AppKey("webhooks", GroupCommit[VerifiedEvent, str])


def webhook_group_commit(engine: AsyncEngine, *, livemode: bool) -> GroupCommit[VerifiedEvent, str]:
    async def apply(connection: asyncpg.Connection, verified: VerifiedEvent) -> str:
        event, payload = verified
        return await process_stripe_event(
            UnitOfWork(connection),
            event,
            payload,
            source="webhook",
            livemode=livemode,
            clock=utc_now,
        )

    async def lock_ahead(connection: asyncpg.Connection, batch: list[VerifiedEvent]) -> None:
        uow = UnitOfWork(connection)
        stored = await uow.record_stripe_events(batch, "webhook")
        await lock_payments_ahead(uow, [event for event, _ in batch if event.id in stored])

    return GroupCommit(engine, apply, _apply_order, lock_ahead=lock_ahead)


def _apply_order(verified: VerifiedEvent) -> tuple[bool, str, str]:
    """Refunds and disputes last, so one finds the payment its group's completion links;
    otherwise in the order of the Stripe object's id (events about one object apply in a row),
    then of the event's (its record's key). Locks are taken ahead, in an order of their own."""
    event, _ = verified
    return event.type in PAYMENT_INTENT_EVENTS, event.data.object.id or "", event.id


@api.operation(
    "POST",
    "/webhooks/stripe",
    summary="Stripe webhook endpoint (Stripe-Signature over the raw body)",
    responses={200: WebhookOut, 400: None, 503: None},
    auth=False,
)
async def stripe_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    payload = await request.read()
    try:
        verify_signature(
            payload,
            request.headers.get("Stripe-Signature"),
            settings.webhook_secrets,
            settings.webhook_tolerance_seconds,
            time.time(),
        )
        event = so.Event.model_validate_json(payload)
    except InvalidSignature as refused:
        metrics.WEBHOOK_OUTCOMES.labels("bad_signature").inc()
        raise Problem(400, "invalid_signature", f"Webhook refused: {refused}.") from None
    except ValidationError:
        metrics.WEBHOOK_OUTCOMES.labels("malformed").inc()
        raise Problem(400, "malformed_event", "The body is not a Stripe event.") from None
    try:
        outcome = await request.app[WEBHOOKS].submit((event, payload))
    except PaymentNotReady as early:
        # Delivered before the event it depends on: Stripe retries, reconciliation too.
        metrics.WEBHOOK_OUTCOMES.labels("deferred").inc()
        log.info("deferring Stripe event %s: %s", event.id, early)
        raise Problem(503, "not_ready", "The payment is not at that stage yet; retry.") from None
    metrics.WEBHOOK_OUTCOMES.labels(outcome).inc()
    return web.json_response(WebhookOut(received=True, outcome=outcome).model_dump())
