"""Reconciliation: re-read recent events from Stripe's Events API, so a lost delivery is not final.

One pass at a time across replicas (a PostgreSQL advisory lock); events already recorded are
skipped, the others go through the webhook's own code path. The stored cursor moves up to the
newest event read, but never past one that could not be applied yet.
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
    Clock,
    process_stripe_event,
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
    deferred: int = 0


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
            seen = set(
                await conn.scalars(
                    select(stripe_events.c.id).where(
                        stripe_events.c.id.in_([event["id"] for event in listed])
                    )
                )
            )
        newest, deferred_from, recovered, deferred = since, None, 0, 0
        for raw in sorted(listed, key=lambda event: int(event["created"])):
            event = so.Event.model_validate(raw)
            created = datetime.fromtimestamp(event.created, UTC)
            newest = max(newest, created)
            if event.id in seen:
                continue
            try:
                async with unit_of_work(self._engine) as uow:
                    outcome = await process_stripe_event(
                        uow,
                        event,
                        orjson.dumps(raw),
                        source="reconciliation",
                        livemode=self._livemode,
                        clock=self._clock,
                    )
            except PaymentNotReady:
                deferred += 1
                deferred_from = deferred_from or created
                continue
            if outcome != "duplicate":
                recovered += 1
                metrics.RECONCILED_EVENTS.inc()
                log.warning("reconciliation applied missed event %s (%s)", event.id, event.type)
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
