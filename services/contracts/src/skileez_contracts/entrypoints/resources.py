"""What routes share: the typed app keys, the one `api`, the caller, the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_contracts.adapters import unit_of_work
from skileez_contracts.service_layer.unit_of_work import UnitOfWork
from skileez_contracts.settings import ContractsSettings
from skileez_events import EventConsumer, OutboxRelay
from skileez_web.auth import Principal, authenticate
from skileez_web.correlation import correlation_id
from skileez_web.openapi import Api

SETTINGS = web.AppKey("settings", ContractsSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
CONSUMER = web.AppKey("consumer", EventConsumer)
RELAY = web.AppKey("relay", OutboxRelay)

api = Api(title="Skileez contracts")
"""Every route is declared on this one object, which also describes it."""


def caller(request: web.Request) -> Principal:
    """The authenticated caller (401 otherwise)."""
    return authenticate(request, request.app[SETTINGS].token_rules)


@asynccontextmanager
async def request_unit_of_work(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """A unit of work for this request; the events it causes carry the request's correlation id."""
    async with unit_of_work.transaction(request.app[ENGINE], correlation_id(request)) as uow:
        yield uow


@asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """Repositories for the one statement of a request that only reads (no BEGIN/COMMIT)."""
    async with unit_of_work.single_read(request.app[ENGINE]) as uow:
        yield uow
