"""Pytest plugin: real PostgreSQL and RabbitMQ for every test suite of the project.

Servers come from `TEST_DATABASE_URL` / `TEST_AMQP_URL` where set (CI: the machine's own
servers); else testcontainers starts them where a Docker engine answers; else this machine's
servers at their default addresses (`LocalServers`) where they answer; else the run stops with
one message saying how to provide them. Each test gets fresh databases and its own
`EVENTS_NAMESPACE`, both removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.engine import make_url
from yarl import URL

from skileez_events import broker
from skileez_events.broker import server_of
from skileez_events.envelope import CloudEvent, new_event
from skileez_events.schemas import ContractCreated
from skileez_events.topology import Names, declare_exchanges, delete_topology

T = TypeVar("T")

CONNECT_TIMEOUT = 3.0
"""Seconds a local server is given to answer before the harness looks elsewhere."""


@dataclass(frozen=True)
class LocalServers:
    """Where the tests look when no TEST_ variable is set and no Docker engine answers."""

    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    amqp: str = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture(scope="session")
def local_servers() -> LocalServers:
    """This machine's PostgreSQL and RabbitMQ at their default addresses (a conftest may
    override this fixture to look elsewhere)."""
    return LocalServers()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


async def _postgres_refusal(url: str) -> str | None:
    """Why the PostgreSQL at `url` cannot be used, or None when it answers."""
    try:
        connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        return f"no answer from PostgreSQL at {server_of(url)} within {CONNECT_TIMEOUT:g} s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    await connection.close(timeout=CONNECT_TIMEOUT)
    return None


async def _amqp_refusal(url: str) -> str | None:
    """Why the RabbitMQ at `url` cannot be used, or None when it answers."""
    try:
        connection = await broker.connect(url, timeout=CONNECT_TIMEOUT)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


def _stop_without_servers(local: LocalServers) -> NoReturn:
    """End the whole run with one message (not one error per test) saying what was tried."""
    tried = [
        f"  - {name} at {url}: {refusal or 'answers'}"
        for name, url, refusal in [
            ("PostgreSQL", local.postgres, asyncio.run(_postgres_refusal(local.postgres))),
            ("RabbitMQ", local.amqp, asyncio.run(_amqp_refusal(local.amqp))),
        ]
    ]
    pytest.exit(
        "No PostgreSQL or RabbitMQ for the tests. TEST_DATABASE_URL / TEST_AMQP_URL are not "
        "both set, no Docker engine answers (for testcontainers), and this machine's servers "
        "at their default addresses do not both answer:\n"
        + "\n".join(tried)
        + "\nStart them there, run a Docker engine, or set TEST_DATABASE_URL (a server URL "
        "whose user may create databases) and TEST_AMQP_URL.",
        returncode=pytest.ExitCode.USAGE_ERROR,
    )


def answering(variable: str, url: str, refusal: str | None) -> str:
    """`url` (from `variable`) when its server answered, else end the run at once with one
    message naming the server: a stalled server must not hang every test instead."""
    if refusal is not None:
        pytest.exit(
            f"{variable} names {server_of(url)}, which does not answer: {refusal}",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    return url


@pytest.fixture(scope="session")
def postgres_server_url(local_servers: LocalServers) -> Iterator[str]:
    """A server-level PostgreSQL URL (`postgresql://...`) whose user may create databases."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield answering("TEST_DATABASE_URL", url, asyncio.run(_postgres_refusal(url)))
        return
    if not _docker_answers():
        if asyncio.run(_postgres_refusal(local_servers.postgres)) is not None:
            _stop_without_servers(local_servers)
        yield local_servers.postgres
        return
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def amqp_url(local_servers: LocalServers) -> Iterator[str]:
    if url := os.environ.get("TEST_AMQP_URL"):
        yield answering("TEST_AMQP_URL", url, asyncio.run(_amqp_refusal(url)))
        return
    if not _docker_answers():
        if asyncio.run(_amqp_refusal(local_servers.amqp)) is not None:
            _stop_without_servers(local_servers)
        yield local_servers.amqp
        return
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13-management-alpine") as container:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"


@pytest.fixture
async def create_database(
    postgres_server_url: str,
) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Factory: `await create_database("contracts")` -> the async SQLAlchemy URL of a fresh DB."""
    server = make_url(postgres_server_url).set(drivername="postgresql")
    created: list[str] = []

    async def create(label: str) -> str:
        name = f"test_{label}_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(server.render_as_string(hide_password=False))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return server.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )

    yield create
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def events_names(amqp_url: str) -> AsyncIterator[Names]:
    """A fresh `EVENTS_NAMESPACE` for one test; its exchanges and queues are deleted after."""
    names = Names(f"test-{uuid.uuid4().hex[:12]}.")
    yield names
    async with await broker.connect(amqp_url) as connection:
        await delete_topology(await connection.channel(), names)


@asynccontextmanager
async def tap(
    amqp_url: str, names: Names, routing_key: str = "#"
) -> AsyncIterator[list[AbstractIncomingMessage]]:
    """A private queue bound to every producer exchange: collects every message published."""
    async with await broker.connect(amqp_url) as connection:
        channel = await connection.channel()
        exchanges = await declare_exchanges(channel, names)
        queue = await channel.declare_queue(exclusive=True)
        for exchange in exchanges.values():
            await queue.bind(exchange, routing_key=routing_key)
        received: list[AbstractIncomingMessage] = []

        async def collect(message: AbstractIncomingMessage) -> None:
            received.append(message)
            await message.ack()

        await queue.consume(collect)
        yield received


async def wait_until(
    probe: Callable[[], T | Awaitable[T]], *, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it gives something truthy; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        await asyncio.sleep(interval)


class TcpProxy:
    """A loopback TCP proxy a test can cut and restore, to take a server away from a client,
    or stall, to make it a black hole (connections accepted, nothing ever answered)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self.port = 0
        self.accepted = 0
        """Connections accepted so far (a client retrying through a black hole adds more)."""

    async def start(self) -> None:
        """Listen (on a free port the first time), or forward again after `cut`."""
        self._refusing = False
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Reset every open connection, and every new one until `start` is called again. The
        port stays bound, so that no client's outgoing connection can take it meanwhile."""
        self._refusing = True
        self._reset_pipes()

    async def stop(self) -> None:
        """Close every connection and stop listening, for good."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._reset_pipes()

    def _reset_pipes(self) -> None:
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()

    def stall(self) -> None:
        """Keep accepting connections but forward nothing, either way, until `resume`: a
        server that accepted TCP and never sent its protocol header, as a stalled node did."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again what `stall` held, and connect what was accepted meanwhile."""
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()  # a reset, as a refused connection reads to the client
            return
        self.accepted += 1
        self._pipes.add(writer)
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._pipes.add(up_writer)
        await asyncio.gather(
            _pipe(reader, up_writer, self._flowing), _pipe(up_reader, writer, self._flowing)
        )

    def url_for(self, url: str) -> str:
        """`url` (a database or broker URL) with its host and port replaced by this proxy's."""
        return str(URL(url).with_host("127.0.0.1").with_port(self.port))


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    writer.close()


def contract_created_event(**overrides: Any) -> CloudEvent:
    """A valid ContractCreated event of a new contract (keyword arguments go to `new_event`)."""
    data = ContractCreated(
        contract_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        student_id="student-1",
        coach_id="coach-1",
        title="Ten sessions of chess",
        session_count=10,
        amount=50_000,
        currency="eur",
        created_at=datetime.now(UTC),
    )
    return new_event(data, subject=str(data.contract_id), **overrides)
