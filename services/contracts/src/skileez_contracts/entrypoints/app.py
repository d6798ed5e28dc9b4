"""`create_app`: the contracts service, its database, outbox relay and payment-event consumer."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.adapters.tables import inbox, outbox
from skileez_contracts.entrypoints import (
    cancellations,
    contracts,
    home,
    notifications,
    proposals,
)
from skileez_contracts.entrypoints.errors import REFUSALS
from skileez_contracts.entrypoints.resources import CONSUMER, ENGINE, RELAY, SETTINGS, api
from skileez_contracts.entrypoints.subscriptions import SUBSCRIPTIONS, lock_contracts
from skileez_contracts.settings import ContractsSettings
from skileez_web.app import consuming, database, pruning, relaying, service_app
from skileez_web.database import database_is_reachable
from skileez_web.pages import setup_templates
from skileez_web.retention import Pruning, messaging_pruning
from skileez_web.settings import RetentionSettings

ROUTE_MODULES = (home, proposals, contracts, cancellations, notifications)
"""Importing these declares their routes on `api`."""


def retention(settings: RetentionSettings) -> list[Pruning]:
    """What the retention job prunes (`python -m skileez_contracts prune`)."""
    return messaging_pruning(settings, inbox=inbox, outbox=outbox)


def create_app(settings: ContractsSettings) -> web.Application:
    async def database_ready() -> bool:
        return await database_is_reachable(app[ENGINE])

    async def consumer_ready() -> bool:
        return app[CONSUMER].ready

    app = service_app(
        api,
        readiness={"database": database_ready, "consumer": consumer_ready},
        settings=settings,
        refusals=REFUSALS,
        public_url=settings.contracts_url,
        engine=ENGINE,
        consumer="contracts",
    )
    app[SETTINGS] = settings
    setup_templates(app, "skileez_contracts")
    app.cleanup_ctx.extend(
        [
            database(settings, ENGINE),
            relaying(settings, ENGINE, outbox, RELAY),
            consuming(
                settings,
                ENGINE,
                CONSUMER,
                consumer="contracts",
                inbox=inbox,
                subscriptions=SUBSCRIPTIONS,
                lock_ahead=lock_contracts,
            ),
            pruning(settings, ENGINE, retention(settings)),
        ]
    )
    return app
