"""`create_app(settings)`: routes, templates, and every resource in a cleanup context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import aiohttp
from aiohttp import web

from skileez_payments import metrics
from skileez_payments.adapters.stripe_event_retention import clear_old_bodies
from skileez_payments.adapters.stripe_gateway import StripeApiGateway
from skileez_payments.adapters.tables import inbox, outbox, stripe_events
from skileez_payments.adapters.unit_of_work import reconciliation_lock
from skileez_payments.entrypoints import cancellations, checkout, payments, webhook
from skileez_payments.entrypoints.errors import REFUSALS
from skileez_payments.entrypoints.resources import (
    CONSUMER,
    ENGINE,
    RECONCILER,
    RELAY,
    SETTINGS,
    STRIPE,
    STRIPE_ROUTE_LIMITS,
    WEBHOOKS,
    api,
    refunding,
    units_of_work,
    utc_now,
)
from skileez_payments.entrypoints.subscriptions import subscriptions
from skileez_payments.entrypoints.webhook import webhook_group_commit
from skileez_payments.service_layer.reconciliation import Reconciler, ReconciliationPolicy
from skileez_payments.settings import PaymentsRetentionSettings, PaymentsSettings
from skileez_web.app import (
    background,
    consuming,
    database,
    pruning,
    relaying,
    sampling,
    service_app,
)
from skileez_web.database import database_is_reachable
from skileez_web.pages import setup_templates
from skileez_web.rate_limit import TokenBuckets
from skileez_web.retention import Pruning, messaging_pruning

ROUTE_MODULES = (checkout, payments, cancellations, webhook)
"""Importing these declares their routes on `api`."""


def retention(settings: PaymentsRetentionSettings) -> list[Pruning]:
    """What the retention job prunes (`python -m skileez_payments prune`): the messaging tables
    and the old bodies of stored Stripe events."""
    bodies = timedelta(days=settings.stripe_event_body_retention_days)
    return [
        *messaging_pruning(settings, inbox=inbox, outbox=outbox),
        Pruning(stripe_events.name, partial(clear_old_bodies, older_than=bodies)),
    ]


def create_app(settings: PaymentsSettings) -> web.Application:
    async def database_ready() -> bool:
        return await database_is_reachable(app[ENGINE])

    async def consumer_ready() -> bool:
        return CONSUMER in app and app[CONSUMER].ready

    app = service_app(
        api,
        readiness={"database": database_ready, "consumer": consumer_ready},
        settings=settings,
        refusals=REFUSALS,
        public_url=settings.payments_url,
        engine=ENGINE,
        consumer="payments",
    )
    app[SETTINGS] = settings
    app[STRIPE_ROUTE_LIMITS] = TokenBuckets(settings.stripe_route_rate)
    setup_templates(app, "skileez_payments")
    app.cleanup_ctx.extend(
        [
            database(settings, ENGINE),
            _webhooks,
            _stripe,
            relaying(settings, ENGINE, outbox, RELAY),
            consuming(
                settings,
                ENGINE,
                CONSUMER,
                consumer="payments",
                inbox=inbox,
                subscriptions=subscriptions(lambda: refunding(app)),
            ),
            _reconciler,
            background("payments reconciliation", lambda: app[RECONCILER].run()),
            pruning(settings, ENGINE, retention(settings)),
            sampling(settings, lambda app: [("payments", metrics.waiting_sample(app[ENGINE]))]),
        ]
    )
    return app


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    app[WEBHOOKS] = webhook_group_commit(app[ENGINE], livemode=app[SETTINGS].stripe_livemode)
    async for _ in background("webhook group commit", app[WEBHOOKS].run)(app):
        yield


async def _stripe(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as http:
        app[STRIPE] = StripeApiGateway(
            api_key=settings.stripe_secret_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            http=http,
            max_network_retries=settings.stripe_max_network_retries,
            timeout_seconds=settings.stripe_timeout_seconds,
        )
        yield


async def _reconciler(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[RECONCILER] = Reconciler(
        app[STRIPE],
        units_of_work(app),
        lambda: reconciliation_lock(app[ENGINE]),
        ReconciliationPolicy(
            livemode=settings.stripe_livemode,
            lookback=timedelta(seconds=settings.reconcile_lookback_seconds),
            clock=utc_now,
        ),
        interval=settings.reconcile_interval_seconds,
    )
    yield
