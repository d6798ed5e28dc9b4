"""`POST /webhooks/stripe`: verify the raw body's signature, then apply the event once.

Events arriving together share one transaction (`skileez_db.group_commit`), each applied as if
alone and answered after that commit; the group takes its locks ahead, at once and in one order.
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
from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.unit_of_work import PostgresUnitOfWork
from skileez_payments.adapters.webhook_signature import InvalidSignature, verify_signature
from skileez_payments.domain.errors import PaymentNotReady
from skileez_payments.entrypoints.resources import SETTINGS, WEBHOOKS, api, utc_now
from skileez_payments.entrypoints.schemas import WebhookOut
from skileez_payments.service_layer.stripe_events import (
    PAYMENT_INTENT_EVENTS,
    VerifiedEvent,
    lock_payments_ahead,
    process_stripe_event,
)
from skileez_web.problems import Problem

log = logging.getLogger(__name__)


def webhook_group_commit(engine: AsyncEngine, *, livemode: bool) -> GroupCommit[VerifiedEvent, str]:
    async def apply(connection: asyncpg.Connection, verified: VerifiedEvent) -> str:
        event, payload = verified
        return await process_stripe_event(
            event,
            PostgresUnitOfWork(connection),
            payload=payload,
            source="webhook",
            livemode=livemode,
            clock=utc_now,
        )

    async def lock_ahead(connection: asyncpg.Connection, batch: list[VerifiedEvent]) -> None:
        uow = PostgresUnitOfWork(connection)
        stored = await uow.record_stripe_events(batch, "webhook")
        await lock_payments_ahead([event for event, _ in batch if event.id in stored], uow)

    return GroupCommit(engine, apply, _apply_order, lock_ahead=lock_ahead)


def _apply_order(verified: VerifiedEvent) -> tuple[bool, str, str]:
    """Refunds and disputes last, so one finds the payment its group's completion links;
    otherwise by Stripe object, so events about one object apply in a row."""
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
        event = stripe_objects.Event.model_validate_json(payload)
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
        metrics.WEBHOOK_EVENTS.labels(event.type, "deferred").inc()
        log.info("deferring Stripe event %s: %s", event.id, early)
        raise Problem(503, early.code, "The payment is not at that stage yet; retry.") from None
    metrics.WEBHOOK_OUTCOMES.labels(outcome).inc()
    metrics.WEBHOOK_EVENTS.labels(event.type, outcome).inc()
    return web.json_response(WebhookOut(received=True, outcome=outcome).model_dump())
