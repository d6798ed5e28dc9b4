"""The application's typed state, and the one `Api` every route module declares its routes on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_payments.adapters.stripe_gateway import StripeGateway
from skileez_payments.settings import PaymentsSettings
from skileez_web.negotiation import wants_html
from skileez_web.openapi import Api
from skileez_web.problems import Problem

api = Api(title="Skileez payments")

SETTINGS = web.AppKey("settings", PaymentsSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
STRIPE = web.AppKey("stripe", StripeGateway)


def utc_now() -> datetime:
    return datetime.now(UTC)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page(handler: Handler) -> Handler:
    """A route browsers navigate to: its refusals are rendered as a page, not problem+json."""

    @wraps(handler)
    async def render_refusals(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as problem:
            if not wants_html(request):
                raise
            return aiohttp_jinja2.render_template(
                "problem.html", request, {"problem": problem}, status=problem.status
            )

    return render_refusals
