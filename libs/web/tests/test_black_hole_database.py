"""A black hole in front of PostgreSQL: connections accepted, nothing answered. The service
stays live, says not ready, fails its statements in bounded time and recovers by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_events.testing import TcpProxy, wait_until
from skileez_web import database
from skileez_web.database import create_engine, database_is_reachable
from skileez_web.observability import READINESS, live, ready
from skileez_web.problems import problem_middleware
from skileez_web.readiness import ReadinessChecks

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def proxy(postgres_server_url: str) -> AsyncIterator[TcpProxy]:
    server = make_url(postgres_server_url)
    running = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await running.start()
    yield running
    running.resume()
    await running.stop()


@pytest.fixture
async def engine(
    create_database: Callable[[str], Awaitable[str]],
    proxy: TcpProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[AsyncEngine]:
    """The services' engine through the proxy, with one-second bounds so the test is short."""
    monkeypatch.setattr(database, "CONNECT_TIMEOUT", 1.0)
    url = proxy.url_for(await create_database("black_hole"))
    through = create_engine(url, pool_size=2, statement_timeout=1.0)
    yield through
    await through.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The health routes as every service serves them, the database its readiness check."""
    app = web.Application(middlewares=[problem_middleware])
    app[READINESS] = ReadinessChecks({"database": lambda: database_is_reachable(engine)})
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)

    async def one(_request: web.Request) -> web.Response:
        return web.json_response(await select_one(engine))

    app.router.add_get("/one", one)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def status(client: TestClient, path: str) -> int:
    async with client.get(path) as response:
        await response.read()
        return response.status


async def select_one(engine: AsyncEngine) -> int:
    async with transaction(engine) as connection:
        return int(await connection.fetchval("SELECT 1"))


async def test_under_a_stalled_database_the_service_is_live_not_ready_and_recovers(
    client: TestClient, engine: AsyncEngine, proxy: TcpProxy
) -> None:
    assert await select_one(engine) == 1  # a pooled connection, open before the stall
    assert await status(client, "/health/ready") == 200

    proxy.stall()
    await wait_until(lambda: _is(status(client, "/health/ready"), 503), timeout=15)
    assert await status(client, "/health/live") == 200
    for _ in range(3):  # the open connection's statement, then fresh connections: bounded
        async with asyncio.timeout(5):
            with pytest.raises(TimeoutError):
                await select_one(engine)

    proxy.resume()
    await wait_until(lambda: _is(status(client, "/health/ready"), 200), timeout=15)
    assert await select_one(engine) == 1


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_request_while_the_database_is_away_is_a_503_to_retry_not_a_500(
    client: TestClient, proxy: TcpProxy
) -> None:
    """Chaos run, seed 2: bookings while the database was refused answered 500."""

    async def answer() -> tuple[int, str | None, str | None]:
        async with client.get("/one") as response:
            body = await response.json(content_type=None)
            code = body.get("code") if isinstance(body, dict) else None
            return response.status, code, response.headers.get("Retry-After")

    assert (await answer())[0] == 200
    await proxy.cut()  # refused and reset
    assert await answer() == (503, "unavailable", "5")
    await proxy.start()
    proxy.stall()  # a black hole: the bounded connect or statement times out
    assert await answer() == (503, "unavailable", "5")
    proxy.resume()
    await wait_until(lambda: _is_ok(answer()), timeout=15)


async def _is_ok(value: Awaitable[tuple[int, str | None, str | None]]) -> bool:
    return (await value)[0] == 200
