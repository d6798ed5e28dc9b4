"""What a route needs from its application: typed keys, the caller, a unit of work, links."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_contracts.domain.errors import DomainError
from skileez_contracts.service_layer.unit_of_work import UnitOfWork, single_read, unit_of_work
from skileez_contracts.settings import ContractsSettings
from skileez_events import EventConsumer, OutboxRelay
from skileez_web.auth import Principal, authenticate
from skileez_web.correlation import correlation_id

SETTINGS = web.AppKey("settings", ContractsSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
CONSUMER = web.AppKey("consumer", EventConsumer)
RELAY = web.AppKey("relay", OutboxRelay)


def caller(request: web.Request) -> Principal:
    """The authenticated caller (401 otherwise)."""
    return authenticate(request, request.app[SETTINGS].jwt_secret.get_secret_value())


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """A unit of work for this request; the events it causes carry the request's correlation id."""
    async with unit_of_work(request.app[ENGINE], correlation_id(request)) as uow:
        yield uow


@asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """Repositories for the one statement of a request that only reads (no BEGIN/COMMIT)."""
    async with single_read(request.app[ENGINE]) as uow:
        yield uow


def path_id(request: web.Request, not_found: type[DomainError]) -> uuid.UUID:
    """The `{id}` of the path; an id that cannot exist is simply not found."""
    raw = request.match_info["id"]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(f"There is no such id {raw!r}.") from None


def contract_path(contract_id: uuid.UUID) -> str:
    return f"/contracts/{contract_id}"


def payment_url(settings: ContractsSettings, contract_id: uuid.UUID) -> str:
    return f"{settings.payments_url.rstrip('/')}/contracts/{contract_id}/pay"
