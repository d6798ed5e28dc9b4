"""`/health/ready` under a flood of probes, against a real PostgreSQL: one check a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from skileez_events.testing import TcpProxy, wait_until
from skileez_web.database import create_engine, database_is_reachable
from skileez_web.observability import READINESS, ready
from skileez_web.problems import problem_middleware
from skileez_web.readiness import ReadinessChecks

pytestmark = pytest.mark.timeout(60)


class CountedDatabaseCheck:
    """The services' database check (a connection of its own), counting its runs."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.runs = 0

    async def __call__(self) -> bool:
        self.runs += 1
        return await database_is_reachable(self.engine)


@pytest.fixture
async def proxy(postgres_server_url: str) -> AsyncIterator[TcpProxy]:
    """PostgreSQL behind a proxy the test can cut, to take the database away."""
    server = make_url(postgres_server_url)
    running = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def database_check(
    create_database: Callable[[str], Awaitable[str]], proxy: TcpProxy
) -> AsyncIterator[CountedDatabaseCheck]:
    check = CountedDatabaseCheck(proxy.url_for(await create_database("readiness")))
    yield check
    await check.engine.dispose()


@pytest.fixture
async def client(
    database_check: CountedDatabaseCheck,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The readiness route as every service serves it (`skileez_web.app.service_app`)."""
    app = web.Application(middlewares=[problem_middleware])
    app[READINESS] = ReadinessChecks({"database": database_check})
    app.router.add_get("/health/ready", ready)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def statuses(client: TestClient, count: int) -> list[int]:
    async def probe() -> int:
        async with client.get("/health/ready") as response:
            await response.read()
            return response.status

    return list(await asyncio.gather(*(probe() for _ in range(count))))


async def test_two_hundred_concurrent_probes_cost_one_or_two_database_checks(
    client: TestClient, database_check: CountedDatabaseCheck
) -> None:
    assert await statuses(client, 200) == [200] * 200
    assert 1 <= database_check.runs <= 2


async def test_a_fresh_check_runs_once_the_answer_is_a_second_old(
    client: TestClient, database_check: CountedDatabaseCheck
) -> None:
    await statuses(client, 5)
    runs = database_check.runs
    await asyncio.sleep(1.1)
    await statuses(client, 5)
    assert database_check.runs == runs + 1


async def test_a_database_gone_reads_not_ready_within_about_a_second_and_so_is_cached(
    client: TestClient, database_check: CountedDatabaseCheck, proxy: TcpProxy
) -> None:
    assert await statuses(client, 10) == [200] * 10

    async def not_ready() -> bool:
        return await statuses(client, 1) == [503]

    await proxy.cut()
    gone = time.monotonic()
    await wait_until(not_ready, timeout=5, interval=0.05)
    assert time.monotonic() - gone < 1.5

    runs = database_check.runs
    response = await client.get("/health/ready")
    assert response.status == 503
    assert (await response.json())["checks"] == {"database": False}
    assert await statuses(client, 100) == [503] * 100
    assert database_check.runs == runs
