"""A black hole in front of the broker: it accepts TCP and never answers (seen on this machine:
a stalled RabbitMQ sent no protocol header and every client waited forever). The relay, the
consumer and the test harness give up within bounded times, retry, and recover."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from skileez_events import broker
from skileez_events.testing import TcpProxy, tap, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    url = URL(amqp_url)
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await running.start()
    yield running
    running.resume()
    await running.stop()


@pytest.fixture
def short_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """One second per connection attempt instead of ten, so retries show within the test."""
    monkeypatch.setattr(broker, "CONNECT_TIMEOUT", 1.0)


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def test_a_connection_attempt_to_a_black_hole_fails_in_time_and_names_the_server(
    proxy: TcpProxy, amqp_url: str
) -> None:
    proxy.stall()
    with pytest.raises(TimeoutError, match=f"RabbitMQ at 127.0.0.1:{proxy.port} accepted no"):
        await broker.connect(proxy.url_for(amqp_url), timeout=1.0)


@pytest.mark.usefixtures("short_connect_timeout")
async def test_the_relay_under_a_stalled_broker_retries_and_publishes_once_it_answers(
    service: Any, proxy: TcpProxy, contract_created: Any
) -> None:
    # heartbeat=1: the open connection that stops answering is found dead in about 6 s.
    through = str(URL(proxy.url_for(service.amqp_url)).update_query(heartbeat=1))
    relay = service.start_relay(amqp_url=through)
    await wait_until(lambda: relay.connected, timeout=30)
    async with tap(service.amqp_url, service.names) as received:
        proxy.stall()
        event = contract_created()
        await service.commit_event(event)
        await wait_until(lambda: not relay.connected, timeout=30)
        attempts = proxy.accepted
        await wait_until(lambda: proxy.accepted >= attempts + 2, timeout=30)  # still retrying
        assert await service.unsent() == 1
        proxy.resume()
        await wait_until(lambda: _equals(service.unsent(), 0), timeout=30)
        await wait_until(lambda: any(m.message_id == event.id for m in received), timeout=15)


@pytest.mark.usefixtures("short_connect_timeout")
async def test_the_consumer_under_a_stalled_broker_is_not_ready_and_consumes_once_it_answers(
    service: Any, proxy: TcpProxy, contract_created: Any
) -> None:
    proxy.stall()
    consumer = service.start_consumer(amqp_url=proxy.url_for(service.amqp_url))
    await wait_until(lambda: proxy.accepted >= 3, timeout=30)  # each attempt abandoned
    assert not consumer.ready
    proxy.resume()
    await wait_until(lambda: consumer.ready, timeout=30)
    service.start_relay()
    event = contract_created()
    await service.commit_event(event)
    await wait_until(lambda: _equals(service.effect_count(event.id), 1), timeout=30)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that completes TCP handshakes (the kernel's backlog) and never reads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def test_the_harness_stops_the_run_within_a_minute_naming_a_broker_that_never_answers(
    tmp_path: Path, black_hole: int
) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = -p skileez_events.testing -p no:cacheprovider\n"
        "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_sample.py").write_text("async def test_the_broker(events_names):\n    pass\n")
    environment = dict(os.environ, TEST_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{black_hole}/")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"TEST_AMQP_URL names 127.0.0.1:{black_hole}, which does not answer" in output, output


@pytest.mark.usefixtures("short_connect_timeout")
async def test_the_consumer_whose_open_connection_stalls_reconnects_and_consumes(
    service: Any, proxy: TcpProxy, contract_created: Any
) -> None:
    # heartbeat=1: the open connection that stops answering is found dead in about 6 s.
    through = str(URL(proxy.url_for(service.amqp_url)).update_query(heartbeat=1))
    consumer = service.start_consumer(amqp_url=through)
    await wait_until(lambda: consumer.ready, timeout=30)
    proxy.stall()
    await wait_until(lambda: not consumer.ready, timeout=30)
    attempts = proxy.accepted
    await wait_until(lambda: proxy.accepted >= attempts + 2, timeout=30)  # still retrying
    proxy.resume()
    await wait_until(lambda: consumer.ready, timeout=30)
    service.start_relay()
    event = contract_created()
    await service.commit_event(event)
    await wait_until(lambda: _equals(service.effect_count(event.id), 1), timeout=30)


async def test_a_cut_proxy_resets_connections_but_keeps_its_port_for_its_restart() -> None:
    """Chaos run, seed 2: a cut that let the port go found it taken by a client's outgoing
    connection when it started again (address already in use)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(echo, "127.0.0.1", 0)
    proxy = TcpProxy("127.0.0.1", target.sockets[0].getsockname()[1])
    await proxy.start()

    async def round_trip() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        await writer.drain()
        try:
            return await reader.read(100)
        finally:
            writer.close()

    try:
        assert await round_trip() == b"ping"
        port = proxy.port
        await proxy.cut()
        try:
            answer: bytes | None = await round_trip()
        except ConnectionError:  # reset before or after the write
            answer = None
        assert answer in (None, b"")
        with socket.socket() as squatter, pytest.raises(OSError, match="in use"):
            squatter.bind(("127.0.0.1", port))
        await proxy.start()
        assert (proxy.port, await round_trip()) == (port, b"ping")
    finally:
        await proxy.stop()
        target.close()
        await target.wait_closed()
