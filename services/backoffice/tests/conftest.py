"""The backoffice, really running: migrated database, HTTP server, event consumer, and the
producers' exchanges to publish to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_backoffice.adapters.tables import READ_MODEL, inbox
from skileez_backoffice.entrypoints.app import create_app
from skileez_backoffice.entrypoints.resources import CONSUMER, ENGINE
from skileez_backoffice.settings import BackofficeSettings
from skileez_events import CloudEvent, EventConsumer, Names
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.schemas import producer_of
from skileez_events.testing import wait_until
from skileez_web.auth import Role, mint_token
from skileez_web.database import migrate

SECRET = "backoffice-test-secret-of-at-least-32-bytes"

Rows = dict[str, list[tuple[Any, ...]]]


async def read_model_rows(engine: AsyncEngine) -> Rows:
    """Every row of every read-model table, in a stable order."""
    rows: Rows = {}
    async with engine.connect() as conn:
        for table in READ_MODEL:
            fetched = (await conn.execute(select(table))).all()
            rows[table.name] = sorted((tuple(row) for row in fetched), key=repr)
    return rows


@dataclass
class Backoffice:
    http: aiohttp.ClientSession
    engine: AsyncEngine
    names: Names
    channel: aio_pika.abc.AbstractChannel
    consumer: EventConsumer
    database_url: str

    def headers(self, role: Role = Role.ADMIN, user: str = "admin-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(SECRET, user, role, name='Ada Admin')}"}

    async def call(
        self, method: str, path: str, role: Role | None = Role.ADMIN, **kwargs: Any
    ) -> tuple[int, Any]:
        """One request; the status and the decoded body (JSON, else text)."""
        headers = {**(self.headers(role) if role else {}), **kwargs.pop("headers", {})}
        async with self.http.request(
            method, path, headers=headers, allow_redirects=False, **kwargs
        ) as response:
            if response.content_type.endswith("json"):
                return response.status, await response.json(content_type=None)
            return response.status, await response.text()

    async def publish(self, *events: CloudEvent) -> None:
        """Publish each event on its producer's exchange, as its relay would."""
        for event in events:
            exchange = await self.channel.get_exchange(self.names.exchange(producer_of(event.type)))
            await exchange.publish(
                aio_pika.Message(
                    event.to_json(),
                    message_id=event.id,
                    correlation_id=event.correlationid,
                    type=event.type,
                    content_type=CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=event.type,
            )

    async def handled(self) -> int:
        async with self.engine.connect() as conn:
            query = select(func.count()).select_from(inbox.table)
            return int((await conn.execute(query)).scalar_one())

    async def wait_until_handled(self, events: int) -> None:
        """Wait until `events` distinct events are in the inbox and nothing is in flight."""

        async def done() -> bool:
            return await self.handled() >= events

        await wait_until(done, timeout=30)
        await self.consumer.drain()


@pytest.fixture
async def backoffice_database(create_database: Callable[[str], Awaitable[str]]) -> str:
    url = await create_database("backoffice")
    await asyncio.to_thread(migrate, "skileez_backoffice", url)
    return url


@pytest.fixture
async def backoffice(
    backoffice_database: str, amqp_url: str, events_names: Names
) -> AsyncIterator[Backoffice]:
    settings = BackofficeSettings(
        database_url=backoffice_database,
        amqp_url=amqp_url,
        events_namespace=events_names.namespace,
        jwt_secret=SECRET,
        payments_api_url="http://127.0.0.1:9",  # nothing listens: payments is down
        contracts_api_url="http://127.0.0.1:9",
        scheduling_api_url="http://127.0.0.1:9",
    )
    app = create_app(settings)
    async with (
        TestServer(app) as server,
        aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http,
    ):

        async def ready() -> bool:
            async with http.get("/health/ready") as response:
                return response.status == 200

        await wait_until(ready, timeout=30)
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            yield Backoffice(
                http, app[ENGINE], events_names, channel, app[CONSUMER], backoffice_database
            )
