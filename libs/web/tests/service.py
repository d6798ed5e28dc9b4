"""A service built on `service_app` for the tests of libs/web: its own fresh database with the
sign-in codes table, and settings the test chooses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_web.app import database, service_app
from skileez_web.openapi import Api
from skileez_web.settings import ServiceSettings
from skileez_web.sign_in import sign_in_codes_table

SECRET = "test-secret-that-is-long-enough-for-hs256"
ENGINE = web.AppKey("engine", AsyncEngine)
PUBLIC_URL = "http://127.0.0.1:8001"
SYSTEM_URLS = {
    "contracts_url": PUBLIC_URL,
    "payments_url": "http://127.0.0.1:8002",
    "scheduling_url": "http://127.0.0.1:8003",
}


async def ready() -> bool:
    return True


async def sign_in_database(create_database: Callable[[str], Awaitable[str]]) -> str:
    """A fresh database holding the sign-in codes table, as the services' migrations make it."""
    url = await create_database("web")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(sign_in_codes_table(MetaData()).create)
    finally:
        await engine.dispose()
    return url


def settings_for(database_url: str, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "port": 8001,
        "jwt_secret": SECRET,
        **SYSTEM_URLS,
        **overrides,
    }
    return ServiceSettings(**values)


def build(api: Api, settings: ServiceSettings, public_url: str = PUBLIC_URL) -> web.Application:
    app = service_app(
        api,
        {"always": ready},
        settings,
        refusals={},
        public_url=public_url,
        engine=ENGINE,
        consumer="payments",
    )
    app.cleanup_ctx.append(database(settings, ENGINE))
    return app
