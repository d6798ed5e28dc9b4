"""The scheduling service, really running: migrated database, HTTP server, event consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_events import (
    CloudEvent,
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractReinstated,
    ContractSuspended,
    EventConsumer,
    Names,
    event_type_of,
    new_event,
)
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.testing import wait_until
from skileez_events.topology import SUBSCRIPTIONS
from skileez_scheduling.adapters.tables import inbox
from skileez_scheduling.entrypoints.app import create_app
from skileez_scheduling.entrypoints.resources import CONSUMER, ENGINE
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.auth import Role, mint_token
from skileez_web.database import migrate

SECRET = "scheduling-test-secret-of-at-least-32-bytes"
PAYMENTS_URL = "http://payments.test"


def created(contract_id: uuid.UUID, **overrides: Any) -> CloudEvent:
    data = {
        "contract_id": contract_id,
        "proposal_id": uuid.uuid4(),
        "student_id": "student-1",
        "coach_id": "coach-1",
        "title": "Chess openings",
        "session_count": 3,
        "amount": 30_000,
        "currency": "eur",
        "created_at": datetime.now(UTC),
        **overrides,
    }
    return new_event(ContractCreated(**data), subject=str(contract_id))


def activated(contract_id: uuid.UUID, **overrides: Any) -> CloudEvent:
    data = {
        "contract_id": contract_id,
        "student_id": "student-1",
        "coach_id": "coach-1",
        "session_count": 3,
        "amount": 30_000,
        "currency": "eur",
        "payment_id": uuid.uuid4(),
        "activated_at": datetime.now(UTC),
        **overrides,
    }
    return new_event(ContractActivated(**data), subject=str(contract_id))


def cancelled(contract_id: uuid.UUID, **overrides: Any) -> CloudEvent:
    data = {
        "contract_id": contract_id,
        "reason": "refunded",
        "cancelled_at": datetime.now(UTC),
        **overrides,
    }
    return new_event(ContractCancelled(**data), subject=str(contract_id))


def suspended(contract_id: uuid.UUID, **overrides: Any) -> CloudEvent:
    data = {
        "contract_id": contract_id,
        "reason": "payment disputed",
        "suspended_at": datetime.now(UTC),
        **overrides,
    }
    return new_event(ContractSuspended(**data), subject=str(contract_id))


def reinstated(contract_id: uuid.UUID, **overrides: Any) -> CloudEvent:
    data = {"contract_id": contract_id, "reinstated_at": datetime.now(UTC), **overrides}
    return new_event(ContractReinstated(**data), subject=str(contract_id))


def in_days(days: float, hour: int = 10) -> str:
    """An ISO 8601 start `days` ahead at `hour`:00 UTC."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def booking_form(starts_at: str, minutes: int = 60) -> dict[str, str]:
    """The schedule page's booking form for the UTC start `starts_at`, as a browser posts it."""
    moment = datetime.fromisoformat(starts_at).astimezone(UTC)
    return {
        "start_date": moment.date().isoformat(),
        "start_time": moment.strftime("%H:%M"),
        "time_zone": "UTC",
        "duration_minutes": str(minutes),
    }


@dataclass
class Scheduling:
    http: aiohttp.ClientSession
    engine: AsyncEngine
    names: Names
    channel: aio_pika.abc.AbstractChannel
    exchange: aio_pika.abc.AbstractExchange
    consumer: EventConsumer

    def headers(self, user: str, role: Role = Role.STUDENT) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(SECRET, user, role)}"}

    async def call(
        self,
        method: str,
        path: str,
        user: str | None = "student-1",
        role: Role = Role.STUDENT,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One request; the status and the decoded body (JSON, else text)."""
        headers = {**(self.headers(user, role) if user else {}), **kwargs.pop("headers", {})}
        async with self.http.request(
            method, path, headers=headers, allow_redirects=False, **kwargs
        ) as response:
            if response.content_type.endswith("json"):
                return response.status, await response.json(content_type=None)
            return response.status, await response.text()

    async def book(
        self,
        contract_id: uuid.UUID,
        starts_at: str,
        minutes: int = 60,
        user: str | None = "student-1",
    ) -> tuple[int, Any]:
        return await self.call(
            "POST",
            f"/contracts/{contract_id}/sessions",
            user=user,
            json={"starts_at": starts_at, "duration_minutes": minutes},
        )

    async def publish(self, *events: CloudEvent) -> None:
        await asyncio.gather(
            *(
                self.exchange.publish(
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
                for event in events
            )
        )

    async def contract_status(self, contract_id: uuid.UUID, user: str = "student-1") -> str | None:
        status, body = await self.call("GET", f"/contracts/{contract_id}/sessions", user=user)
        return body["contract_status"] if status == 200 else None

    async def wait_for_status(
        self, contract_id: uuid.UUID, expected: str, user: str = "student-1"
    ) -> None:
        async def reached() -> bool:
            return await self.contract_status(contract_id, user) == expected

        await wait_until(reached)

    async def wait_until_handled(self, events: int) -> None:
        """Wait until the consumer has recorded `events` events in its inbox."""

        async def handled() -> bool:
            async with self.engine.connect() as conn:
                query = select(func.count()).select_from(inbox.table)
                return int((await conn.execute(query)).scalar_one()) >= events

        await wait_until(handled)

    async def settle(self) -> None:
        """Wait until every delivered event has been handled: queues empty, no handler running."""

        async def queues_empty() -> bool:
            for model in SUBSCRIPTIONS["scheduling"]:
                queue = self.names.queue("scheduling", event_type_of(model))
                declared = await self.channel.declare_queue(queue, passive=True)
                if declared.declaration_result.message_count:
                    return False
            return True

        await wait_until(queues_empty)
        await self.consumer.drain()

    async def active_contract(
        self,
        student: str = "student-1",
        coach: str = "coach-1",
        session_count: int = 3,
    ) -> uuid.UUID:
        """A contract scheduling has seen created and activated."""
        contract_id = uuid.uuid4()
        terms = {"student_id": student, "coach_id": coach, "session_count": session_count}
        await self.publish(created(contract_id, **terms), activated(contract_id, **terms))
        await self.wait_for_status(contract_id, "active", student)
        return contract_id


@pytest.fixture
async def scheduling(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> AsyncIterator[Scheduling]:
    database_url = await create_database("scheduling")
    await asyncio.to_thread(migrate, "skileez_scheduling", database_url)
    settings = SchedulingSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        events_namespace=events_names.namespace,
        jwt_secret=SECRET,
        payments_url=PAYMENTS_URL,
        db_pool_size=25,
    )
    app = create_app(settings)
    async with (
        TestServer(app) as server,
        aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http,
    ):

        async def ready() -> bool:
            async with http.get("/health/ready") as response:
                return response.status == 200

        await wait_until(ready)
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(events_names.exchange("contracts"))
            yield Scheduling(http, app[ENGINE], events_names, channel, exchange, app[CONSUMER])
