"""The pytest harness as a newcomer meets it: no TEST_ variables and no Docker engine.

Each test runs a small pytest session in a subprocess, with the harness plugin alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

NEEDS_SERVERS = """
import aio_pika
import asyncpg


async def test_a_fresh_database(create_database):
    url = await create_database("harness")
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    assert await connection.fetchval("SELECT 1") == 1
    await connection.close()


async def test_the_broker(amqp_url, events_names):
    async with await aio_pika.connect(amqp_url) as connection:
        await connection.channel()


def test_needing_no_server():
    pass
"""
MESSAGE = "No PostgreSQL or RabbitMQ for the tests"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    """`pytest` in `folder` with the harness plugin, no TEST_ variable, Docker unreachable."""
    (folder / "pytest.ini").write_text(
        "[pytest]\naddopts = -p skileez_events.testing -p no:cacheprovider\n"
        "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    (folder / "test_sample.py").write_text(NEEDS_SERVERS)
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("TEST_")
    }
    environment["DOCKER_HOST"] = f"tcp://127.0.0.1:{closed_port()}"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_without_variables_or_docker_the_local_servers_at_their_defaults_are_used(
    tmp_path: Path,
) -> None:
    run = run_pytest(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_when_nothing_answers_the_run_stops_with_one_message(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "from skileez_events.testing import LocalServers\n\n\n"
        '@pytest.fixture(scope="session")\n'
        "def local_servers():\n"
        f'    return LocalServers("postgresql://postgres@127.0.0.1:{closed_port()}/postgres", '
        f'"amqp://guest:guest@127.0.0.1:{closed_port()}/")\n'
    )
    run = run_pytest(tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert output.count(MESSAGE) == 1, output
    assert "TEST_DATABASE_URL" in output
    assert "Connection refused" in output or "ConnectionRefusedError" in output, output
