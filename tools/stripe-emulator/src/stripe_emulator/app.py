"""`create_app(settings)`: routes, middlewares and the background tasks of one emulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from stripe_emulator import (
    checkout,
    control,
    customers,
    disputes,
    events,
    invoices,
    page,
    payments,
    portal,
    refunds,
    subscriptions,
    test_clocks,
    webhook_endpoints,
)
from stripe_emulator.auth import api_key_middleware
from stripe_emulator.errors import stripe_errors_middleware
from stripe_emulator.idempotency import idempotency_middleware
from stripe_emulator.settings import Settings
from stripe_emulator.state import STATE, EmulatorState

log = logging.getLogger("stripe_emulator")

SETTINGS = web.AppKey("settings", Settings)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)


async def _webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    """One shared ClientSession and the delivery loop, for the app's lifetime."""
    async with aiohttp.ClientSession() as http:
        app[HTTP_SESSION] = http
        task = asyncio.create_task(app[STATE].dispatcher.run(http), name="webhook-delivery")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run_sweeper(state: EmulatorState) -> None:
    while True:
        await asyncio.sleep(state.settings.sweep_interval)
        try:
            control.sweep(state)
        except Exception:
            log.exception("sweep failed")


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """Expire sessions and settle delayed payments as the (possibly advanced) clock passes."""
    task = asyncio.create_task(_run_sweeper(app[STATE]), name="sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings) -> web.Application:
    """An emulator application; its state lives in memory for the app's lifetime."""
    app = web.Application(
        middlewares=[stripe_errors_middleware, api_key_middleware, idempotency_middleware]
    )
    app[SETTINGS] = settings
    app[STATE] = EmulatorState(settings)
    for module in (
        checkout,
        payments,
        refunds,
        disputes,
        events,
        webhook_endpoints,
        customers,
        subscriptions,
        invoices,
        test_clocks,
        portal,
        control,
        page,
    ):
        app.add_routes(module.routes)
    app.cleanup_ctx.append(_webhook_delivery)
    app.cleanup_ctx.append(_sweeper)
    return app
