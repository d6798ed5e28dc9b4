"""`check_servers`: a server that accepts TCP and never answers stops the run within the
check's bound, with a message naming it (the bench and `up` waited forever before)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from skileez_system.servers import check_servers


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that completes TCP handshakes (the kernel's backlog) and never reads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


async def test_a_stalled_database_stops_the_run_in_time_naming_it(
    black_hole: int, amqp_url: str
) -> None:
    started = time.monotonic()
    with pytest.raises(SystemExit, match=f"PostgreSQL at 127.0.0.1:{black_hole} does not answer"):
        await check_servers(f"postgresql://postgres@127.0.0.1:{black_hole}/x", amqp_url, 1.0)
    assert time.monotonic() - started < 10


async def test_a_stalled_broker_stops_the_run_in_time_naming_it(
    black_hole: int, postgres_server_url: str
) -> None:
    started = time.monotonic()
    with pytest.raises(SystemExit, match=f"RabbitMQ at 127.0.0.1:{black_hole} does not answer"):
        await check_servers(postgres_server_url, f"amqp://guest:guest@127.0.0.1:{black_hole}/", 1.0)
    assert time.monotonic() - started < 10


async def test_servers_that_answer_pass(postgres_server_url: str, amqp_url: str) -> None:
    await check_servers(postgres_server_url, amqp_url)
