"""Reconciliation: re-read recent events from Stripe's Events API, so a lost delivery is not final.

One pass at a time across replicas (a PostgreSQL advisory lock); events already recorded are
skipped, the others go through the webhook's own code path. A refund or dispute recorded
"unmatched" (it came before the event linking its PaymentIntent to a payment) is applied again
by every pass that reads it. The stored cursor moves up to the newest event read, but never past
one that could not be applied yet, nor past such an unmatched one younger than the lookback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_payments import metrics
from skileez_payments.adapters import stripe_objects as so
from skileez_payments.adapters.stripe_gateway import StripeGateway
from skileez_payments.adapters.tables import reconciliation_cursor, stripe_events
from skileez_payments.domain.payment import PaymentNotReady
from skileez_payments.service_layer.stripe_events import (
    HANDLED_EVENTS,
    PAYMENT_INTENT_EVENTS,
    Clock,
    process_stripe_event,
    retry_unmatched_stripe_event,
)
from skileez_payments.service_layer.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x5C11EE5_0001
"""The key every replica's reconciliation pass takes (pg_try_advisory_lock)."""

CURSOR = "stripe_events"


@dataclass(frozen=True)
class PassResult:
    ran: bool
    read: int = 0
    recovered: int = 0
    """Events this pass recorded (missed ones, whatever their outcome) or applied again
    (unmatched ones that found their payment); a refund or dispute that a recovered completion
    applied, as its payment became paid, is not counted again."""
    deferred: int = 0
    """Events the cursor waits for: not applicable yet, or still unmatched and recent."""


class Reconciler:
    def __init__(
        self,
        engine: AsyncEngine,
        stripe: StripeGateway,
        *,
        livemode: bool,
        interval: float,
        lookback: timedelta,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._stripe = stripe
        self._livemode = livemode
        self._interval = interval
        self._lookback = lookback
        self._clock = clock

    async def run(self) -> None:
        """A pass every `interval` seconds until cancelled; a failed pass is retried next time."""
        while True:
            try:
                result = await self.reconcile()
                if result.recovered or result.deferred:
                    log.info("reconciliation: %s", result)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciliation pass failed; retrying in %s s", self._interval)
            await asyncio.sleep(self._interval)

    async def reconcile(self) -> PassResult:
        """One pass, unless another replica is running one right now."""
        async with self._engine.connect() as lock_holder:
            taken = await lock_holder.scalar(select(func.pg_try_advisory_lock(ADVISORY_LOCK)))
            await lock_holder.commit()
            if not taken:
                return PassResult(ran=False)
            try:
                return await self._pass()
            finally:
                await lock_holder.scalar(select(func.pg_advisory_unlock(ADVISORY_LOCK)))
                await lock_holder.commit()

    async def _pass(self) -> PassResult:
        async with self._engine.connect() as conn:
            since = await conn.scalar(
                select(reconciliation_cursor.c.created_since).where(
                    reconciliation_cursor.c.name == CURSOR
                )
            )
        since = since or self._clock() - self._lookback
        listed = [event async for event in self._stripe.events_since(since, list(HANDLED_EVENTS))]
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(stripe_events.c.id, stripe_events.c.outcome).where(
                    stripe_events.c.id.in_([event["id"] for event in listed])
                )
            )
            recorded = {row.id: row.outcome for row in rows}
        retry_since = self._clock() - self._lookback
        newest, deferred_from, recovered, deferred = since, None, 0, 0
        # Stripe lists newest first: reversed, then sorted by the second they were created in,
        # events of one second keep the order they happened in (a session's completion before
        # the refund of its payment).
        for raw in sorted(reversed(listed), key=lambda event: int(event["created"])):
            event = so.Event.model_validate(raw)
            created = datetime.fromtimestamp(event.created, UTC)
            newest = max(newest, created)
            by_intent = event.type in PAYMENT_INTENT_EVENTS
            if event.id in recorded and not (by_intent and recorded[event.id] == "unmatched"):
                continue
            try:
                async with unit_of_work(self._engine) as uow:
                    outcome, retried = "duplicate", False
                    if event.id not in recorded:
                        outcome = await process_stripe_event(
                            uow,
                            event,
                            orjson.dumps(raw),
                            source="reconciliation",
                            livemode=self._livemode,
                            clock=self._clock,
                        )
                    if outcome == "duplicate" and by_intent:
                        # Recorded unmatched before this pass, or by a webhook meanwhile.
                        retried = True
                        outcome = await retry_unmatched_stripe_event(
                            uow, event, livemode=self._livemode, clock=self._clock
                        )
            except PaymentNotReady:
                outcome = "not_ready"
            if outcome == "not_ready" or (
                outcome == "unmatched" and by_intent and created >= retry_since
            ):
                deferred += 1
                deferred_from = deferred_from or created
                continue
            if outcome == "duplicate" or (retried and outcome == "unmatched"):
                continue
            recovered += 1
            metrics.RECONCILED_EVENTS.inc()
            log.warning("reconciliation: event %s (%s) %s", event.id, event.type, outcome)
        await self._store_cursor(deferred_from or newest)
        return PassResult(ran=True, read=len(listed), recovered=recovered, deferred=deferred)

    async def _store_cursor(self, since: datetime) -> None:
        async with self._engine.begin() as conn:
            statement = insert(reconciliation_cursor).values(name=CURSOR, created_since=since)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[reconciliation_cursor.c.name],
                    set_={"created_since": since, "updated_at": func.now()},
                )
            )
