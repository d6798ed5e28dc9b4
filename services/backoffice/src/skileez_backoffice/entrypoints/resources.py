"""What every route shares: the typed keys of what the application holds for its lifetime, the
one `api`, who is calling (an admin, or a refusal), and the request's connection."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import asyncpg
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_backoffice.adapters.services import ServiceGateway
from skileez_backoffice.settings import BackofficeSettings
from skileez_db.connections import transaction
from skileez_events import EventConsumer
from skileez_web.auth import Principal, Role, authenticate, require_role, token_of
from skileez_web.openapi import Api, ResponseSpec

SETTINGS = web.AppKey("settings", BackofficeSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
CONSUMER = web.AppKey("consumer", EventConsumer)
SERVICES = web.AppKey("services", ServiceGateway)

api = Api("Skileez backoffice")

PROBLEMS: dict[int, ResponseSpec] = {401: None, 403: None}
"""The refusals every route of `api` may answer with (not signed in, not an admin)."""


def admin(request: web.Request) -> Principal:
    """The signed-in admin (401 when not signed in, 403 for any other role)."""
    principal = authenticate(request, request.app[SETTINGS].token_rules)
    require_role(principal, Role.ADMIN)
    return principal


def operator_token(request: web.Request) -> str:
    """The admin's own token, which the backoffice passes on when it acts for them."""
    admin(request)
    token = token_of(request)
    assert token is not None  # authenticated above
    return token


def request_transaction(request: web.Request) -> AbstractAsyncContextManager[asyncpg.Connection]:
    """A transaction of its own for the request, committed if the block ends without error."""
    return transaction(request.app[ENGINE])
