"""What every route shares: the typed keys of what the application holds for its lifetime, the
one `api`, who is calling, and the request's unit of work."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_events import EventConsumer, OutboxRelay
from skileez_scheduling.adapters.unit_of_work import PostgresUnitOfWork, unit_of_work
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.auth import Principal, authenticate
from skileez_web.correlation import correlation_id
from skileez_web.openapi import Api

SETTINGS = web.AppKey("settings", SchedulingSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
CONSUMER = web.AppKey("consumer", EventConsumer)
RELAY = web.AppKey("relay", OutboxRelay)

api = Api("Skileez scheduling")

PROBLEMS = {401: None, 403: None, 404: None}
"""The refusals every route of `api` may answer with (not signed in, not a party, unknown)."""


def caller(request: web.Request) -> Principal:
    """The signed-in caller (401 otherwise)."""
    return authenticate(request, request.app[SETTINGS].token_rules)


def request_unit_of_work(request: web.Request) -> AbstractAsyncContextManager[PostgresUnitOfWork]:
    """The request's unit of work: one transaction, committed if the block ends without error;
    the events it causes carry the request's correlation id."""
    return unit_of_work(request.app[ENGINE], correlation_id(request))
