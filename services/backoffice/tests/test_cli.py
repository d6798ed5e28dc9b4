"""`python -m skileez_backoffice migrate`, `serve` and `rebuild`, as real processes configured
by the environment."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_events import Names
from skileez_events.testing import wait_until

from .conftest import Backoffice, read_model_rows
from .november import november

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "skileez_backoffice", *args, env=env, stdout=asyncio.subprocess.PIPE
    )


async def test_migrate_then_serve_becomes_ready(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": await create_database("backoffice_cli"),
        "AMQP_URL": amqp_url,
        "EVENTS_NAMESPACE": events_names.namespace,
        "JWT_SECRET": "cli-test-secret-that-is-long-enough-for-hs256",
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    migrate = await run("migrate", env=env)
    assert await asyncio.wait_for(migrate.wait(), 60) == 0
    server = await run("serve", env=env)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    async with http.get("/health/ready") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(ready, timeout=30)
            async with http.get("/openapi.json") as response:
                paths = (await response.json())["paths"]
            assert {"/reports/revenue", "/reports/funnel", "/console"} <= set(paths)
    finally:
        server.terminate()
        assert await asyncio.wait_for(server.wait(), 30) == 0


async def test_rebuild_command_replays_the_archive(backoffice: Backoffice) -> None:
    events = november()
    await backoffice.publish(*events)
    await backoffice.wait_until_handled(len(events))
    live = await read_model_rows(backoffice.engine)
    async with backoffice.engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE payments, refunds")
    rebuild = await run("rebuild", env={**os.environ, "DATABASE_URL": backoffice.database_url})
    out, _ = await asyncio.wait_for(rebuild.communicate(), 60)
    assert rebuild.returncode == 0
    assert f"{len(events)} archived events replayed, 0 of unknown types" in out.decode()
    engine = create_async_engine(backoffice.database_url)
    try:
        assert await read_model_rows(engine) == live
    finally:
        await engine.dispose()
