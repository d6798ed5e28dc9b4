"""`create_app(settings)`: the backoffice, its database, its event consumer and its client of
the other services' APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from skileez_backoffice.adapters.services import ServiceGateway
from skileez_backoffice.adapters.tables import inbox
from skileez_backoffice.entrypoints import console, operations, reports
from skileez_backoffice.entrypoints.errors import REFUSALS
from skileez_backoffice.entrypoints.resources import CONSUMER, ENGINE, SERVICES, SETTINGS, api
from skileez_backoffice.entrypoints.subscriptions import SUBSCRIPTIONS
from skileez_backoffice.settings import BackofficeSettings
from skileez_events import Names
from skileez_web.app import consuming, database, pruning, service_app
from skileez_web.database import database_is_reachable
from skileez_web.dead_letters import DeadLetterSource
from skileez_web.pages import setup_templates
from skileez_web.retention import Pruning, messaging_pruning
from skileez_web.settings import RetentionSettings

ROUTE_MODULES = (reports, console, operations)
"""Importing these declares their routes on `api`."""


def retention(settings: RetentionSettings) -> list[Pruning]:
    """What the retention job prunes (`python -m skileez_backoffice prune`): old inbox rows
    only; the event archive and the audit log are kept."""
    return messaging_pruning(settings, inbox=inbox)


def calling_services(
    settings: BackofficeSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the HTTP client of the other services' APIs, closed at exit."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=settings.service_call_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            own = DeadLetterSource(
                settings.amqp_url, Names(settings.events_namespace), "backoffice"
            )
            app[SERVICES] = ServiceGateway(http, settings.service_apis, own)
            yield

    return context


def create_app(settings: BackofficeSettings) -> web.Application:
    async def database_ready() -> bool:
        return await database_is_reachable(app[ENGINE])

    async def consumer_ready() -> bool:
        return app[CONSUMER].ready

    app = service_app(
        api,
        readiness={"database": database_ready, "consumer": consumer_ready},
        settings=settings,
        refusals=REFUSALS,
        public_url=settings.backoffice_url,
        engine=ENGINE,
        consumer="backoffice",
    )
    app[SETTINGS] = settings
    setup_templates(app, "skileez_backoffice.entrypoints")
    app.cleanup_ctx.append(database(settings, ENGINE))
    app.cleanup_ctx.append(calling_services(settings))
    app.cleanup_ctx.append(
        consuming(
            settings,
            ENGINE,
            CONSUMER,
            consumer="backoffice",
            inbox=inbox,
            subscriptions=SUBSCRIPTIONS,
        )
    )
    app.cleanup_ctx.append(pruning(settings, ENGINE, retention(settings)))
    return app
