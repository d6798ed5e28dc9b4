"""`python -m skileez_scheduling migrate` then `serve`, as a real process configured by env."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from skileez_events import Names
from skileez_events.testing import wait_until

pytestmark = pytest.mark.timeout(90)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "skileez_scheduling", *args, env=env
    )


async def test_migrate_then_serve_becomes_ready(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": await create_database("scheduling_cli"),
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
                assert "/contracts/{contract_id}/sessions" in (await response.json())["paths"]
    finally:
        server.terminate()
        assert await asyncio.wait_for(server.wait(), 30) == 0
