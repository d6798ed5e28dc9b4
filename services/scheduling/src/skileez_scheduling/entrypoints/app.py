"""`create_app(settings)`: the scheduling service, its database, outbox relay and event
consumer."""

from __future__ import annotations

from aiohttp import web

from skileez_scheduling.adapters.tables import inbox, outbox
from skileez_scheduling.entrypoints import schedule, sessions
from skileez_scheduling.entrypoints.errors import REFUSALS
from skileez_scheduling.entrypoints.resources import CONSUMER, ENGINE, RELAY, SETTINGS, api
from skileez_scheduling.entrypoints.subscriptions import SUBSCRIPTIONS, lock_contracts
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.app import consuming, database, pruning, relaying, service_app
from skileez_web.database import database_is_reachable
from skileez_web.pages import setup_templates
from skileez_web.retention import Pruning, messaging_pruning
from skileez_web.settings import RetentionSettings

ROUTE_MODULES = (sessions, schedule)
"""Importing these declares their routes on `api`."""


def retention(settings: RetentionSettings) -> list[Pruning]:
    """What the retention job prunes (`python -m skileez_scheduling prune`)."""
    return messaging_pruning(settings, inbox=inbox, outbox=outbox)


def create_app(settings: SchedulingSettings) -> web.Application:
    async def database_ready() -> bool:
        return await database_is_reachable(app[ENGINE])

    async def consumer_ready() -> bool:
        return app[CONSUMER].ready

    app = service_app(
        api,
        readiness={"database": database_ready, "consumer": consumer_ready},
        settings=settings,
        refusals=REFUSALS,
        public_url=settings.scheduling_url,
        engine=ENGINE,
        consumer="scheduling",
    )
    app[SETTINGS] = settings
    setup_templates(app, "skileez_scheduling.entrypoints")
    app.cleanup_ctx.append(database(settings, ENGINE))
    app.cleanup_ctx.append(relaying(settings, ENGINE, outbox, RELAY))
    app.cleanup_ctx.append(
        consuming(
            settings,
            ENGINE,
            CONSUMER,
            consumer="scheduling",
            inbox=inbox,
            subscriptions=SUBSCRIPTIONS,
            lock_ahead=lock_contracts,
        )
    )
    app.cleanup_ctx.append(pruning(settings, ENGINE, retention(settings)))
    return app
