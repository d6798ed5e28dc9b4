"""Reconciliation: re-read recent events from Stripe's Events API, so a lost delivery is not final.

One pass at a time across replicas (a PostgreSQL advisory lock); events already recorded are
skipped, the others go through the webhook's own code path. A refund or dispute recorded
"unmatched" (it came before the event linking its PaymentIntent to a payment) is applied again
by every pass that reads it. The stored cursor moves up to the newest event read, but never past
an event younger than the lookback that could not be applied yet (its payment is not paid, or
not known): the cursor's age is bounded. One older than the lookback is left waiting for its
payment (recorded "unmatched", applied when that payment has Stripe's money) and listed for
operators (`GET /payments/unmatched-events`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from skileez_payments import metrics
from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.stripe_gateway import StripeGateway
from skileez_payments.domain.errors import PaymentNotReady
from skileez_payments.service_layer.stripe_events import (
    HANDLED_EVENTS,
    PAYMENT_INTENT_EVENTS,
    Clock,
    process_stripe_event,
    record_waiting_stripe_event,
    retry_unmatched_stripe_event,
)
from skileez_payments.service_layer.unit_of_work import (
    UnappliedStripeEvent,
    UnitOfWork,
    UnitsOfWork,
)

log = logging.getLogger(__name__)

ExclusivePass = Callable[[], AbstractAsyncContextManager[bool]]
"""Whether this replica may run a pass now (one at a time across replicas), for the block."""


@dataclass(frozen=True)
class PassResult:
    ran: bool
    read: int = 0
    recovered: int = 0
    """Events this pass recorded (missed ones, whatever their outcome) or applied again
    (unmatched ones that found their payment); a refund or dispute that a recovered completion
    applied, as its payment became paid, is not counted again."""
    deferred: int = 0
    """Events the cursor waits for: recent, and not applicable yet or still unmatched."""
    skipped: int = 0
    """Events older than the lookback that could not be applied yet: the cursor moves past
    them, and they wait for their payment, listed for operators."""


@dataclass(frozen=True)
class ReconciliationPolicy:
    livemode: bool
    lookback: timedelta
    clock: Clock


async def reconcile(
    stripe: StripeGateway, uows: UnitsOfWork, policy: ReconciliationPolicy
) -> PassResult:
    """One pass over the events Stripe lists since the stored cursor."""
    async with uows() as uow:
        since = await uow.reconciliation_cursor()
    since = since or policy.clock() - policy.lookback
    listed = [event async for event in stripe.events_since(since, list(HANDLED_EVENTS))]
    async with uows() as uow:
        recorded = await uow.stripe_event_outcomes([event["id"] for event in listed])
    retry_since = policy.clock() - policy.lookback
    newest, deferred_from, recovered, deferred, skipped = since, None, 0, 0, 0
    # Stripe lists newest first: reversed, then sorted by the second they were created in,
    # events of one second keep the order they happened in (a session's completion before
    # the refund of its payment).
    for raw in sorted(reversed(listed), key=lambda event: int(event["created"])):
        event = stripe_objects.Event.model_validate(raw)
        created = datetime.fromtimestamp(event.created, UTC)
        newest = max(newest, created)
        by_intent = event.type in PAYMENT_INTENT_EVENTS
        if event.id in recorded and not (by_intent and recorded[event.id] == "unmatched"):
            continue
        try:
            async with uows() as uow:
                outcome, retried = "duplicate", False
                if event.id not in recorded:
                    outcome = await process_stripe_event(
                        event,
                        uow,
                        payload=orjson.dumps(raw),
                        source="reconciliation",
                        livemode=policy.livemode,
                        clock=policy.clock,
                    )
                if outcome == "duplicate" and by_intent:
                    # Recorded unmatched before this pass, or by a webhook meanwhile.
                    retried = True
                    outcome = await retry_unmatched_stripe_event(
                        event, uow, livemode=policy.livemode, clock=policy.clock
                    )
        except PaymentNotReady:
            outcome = "not_ready"
        recent = created >= retry_since
        if outcome == "not_ready" and not recent:
            async with uows() as uow:
                await record_waiting_stripe_event(
                    event, uow, payload=orjson.dumps(raw), source="reconciliation"
                )
            skipped += 1
            metrics.RECONCILED_EVENTS.inc()
            log.warning(
                "reconciliation: event %s (%s) is older than the lookback and its payment is not"
                " paid: left waiting for it, listed in /payments/unmatched-events",
                event.id,
                event.type,
            )
            continue
        if outcome == "not_ready" or (outcome == "unmatched" and by_intent and recent):
            deferred += 1
            deferred_from = deferred_from or created
            continue
        if outcome == "duplicate" or (retried and outcome == "unmatched"):
            continue
        recovered += 1
        metrics.RECONCILED_EVENTS.inc()
        log.warning("reconciliation: event %s (%s) %s", event.id, event.type, outcome)
    async with uows() as uow:
        await uow.store_reconciliation_cursor(deferred_from or newest)
    return PassResult(
        ran=True, read=len(listed), recovered=recovered, deferred=deferred, skipped=skipped
    )


async def unapplied_stripe_events(uow: UnitOfWork, limit: int) -> list[UnappliedStripeEvent]:
    """What operators must look at: the Stripe events recorded that no payment took, newest
    first (a refund or dispute waiting for its payment, another mode's, an unreadable one)."""
    return await uow.unapplied_stripe_events(limit)


class Reconciler:
    """Runs `reconcile` every `interval` seconds, one pass at a time across replicas."""

    def __init__(
        self,
        stripe: StripeGateway,
        uows: UnitsOfWork,
        exclusive: ExclusivePass,
        policy: ReconciliationPolicy,
        *,
        interval: float,
    ) -> None:
        self._stripe = stripe
        self._uows = uows
        self._exclusive = exclusive
        self._policy = policy
        self._interval = interval

    async def run(self) -> None:
        """A pass every `interval` seconds until cancelled; a failed pass is retried next time."""
        while True:
            try:
                result = await self.reconcile()
                if result.recovered or result.deferred or result.skipped:
                    log.info("reconciliation: %s", result)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciliation pass failed; retrying in %s s", self._interval)
            await asyncio.sleep(self._interval)

    async def reconcile(self) -> PassResult:
        """One pass, unless another replica is running one right now."""
        async with self._exclusive() as taken:
            if not taken:
                return PassResult(ran=False)
            result = await reconcile(self._stripe, self._uows, self._policy)
        metrics.RECONCILIATION_PASSES.inc()
        return result
