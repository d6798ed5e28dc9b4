"""The application's typed state, the one `Api` every route module declares its routes on,
the caller of a request and its units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.group_commit import GroupCommit
from skileez_events import EventConsumer, OutboxRelay
from skileez_payments.adapters.stripe_gateway import StripeGateway
from skileez_payments.adapters.unit_of_work import unit_of_work
from skileez_payments.domain.commands import Viewer
from skileez_payments.service_layer.cancellations import Refunding
from skileez_payments.service_layer.reconciliation import Reconciler
from skileez_payments.service_layer.stripe_events import VerifiedEvent
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork
from skileez_payments.settings import PaymentsSettings
from skileez_web.auth import Principal, Role, authenticate
from skileez_web.openapi import Api
from skileez_web.rate_limit import TokenBuckets

api = Api(title="Skileez payments")

SETTINGS = web.AppKey("settings", PaymentsSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
STRIPE = web.AppKey("stripe", StripeGateway)
RELAY = web.AppKey("relay", OutboxRelay)
CONSUMER = web.AppKey("consumer", EventConsumer)
RECONCILER = web.AppKey("reconciler", Reconciler)
WEBHOOKS = web.AppKey("webhooks", GroupCommit[VerifiedEvent, str])
STRIPE_ROUTE_LIMITS = web.AppKey("stripe_route_limits", TokenBuckets)


class StripeRoute(StrEnum):
    """The routes that call Stripe, each limited per user on its own."""

    PAY = "pay"
    PAYMENT_SUCCESS = "payment-success"
    REFUNDS = "refunds"
    REVIEWS = "reviews"


def utc_now() -> datetime:
    return datetime.now(UTC)


def caller(request: web.Request) -> Principal:
    """The signed-in caller (401 otherwise)."""
    return authenticate(request, request.app[SETTINGS].token_rules)


def viewer(request: web.Request) -> Viewer:
    principal = caller(request)
    return Viewer(principal.user_id, admin=principal.role is Role.ADMIN)


def spend_stripe_route(request: web.Request, user_id: str, route: StripeRoute) -> None:
    """429 `rate_limited` for a user past their rate on a route that calls Stripe, before the
    route reads anything: no one spends the account's Stripe rate limit at will."""
    request.app[STRIPE_ROUTE_LIMITS].take((user_id, route))


def refunding(app: web.Application) -> Refunding:
    """What a cancellation's refund needs of the app: its Stripe gateway, its mode, a clock."""
    return Refunding(app[STRIPE], app[SETTINGS].stripe_livemode, utc_now)


def units_of_work(app: web.Application) -> UnitsOfWork:
    """Each call opens a unit of work in a transaction of its own on the app's database."""

    @asynccontextmanager
    async def open_unit_of_work() -> AsyncIterator[UnitOfWork]:
        async with unit_of_work(app[ENGINE]) as uow:
            yield uow

    return open_unit_of_work


def request_unit_of_work(request: web.Request) -> AbstractAsyncContextManager[UnitOfWork]:
    """The request's unit of work: one transaction, committed when the block ends normally."""
    return units_of_work(request.app)()
