"""The contracts service, started for real against a fresh database and a fresh namespace."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Table, func, select

from skileez_contracts.adapters.tables import contracts, inbox, notifications, outbox
from skileez_contracts.entrypoints.app import create_app
from skileez_contracts.entrypoints.resources import CONSUMER, ENGINE
from skileez_contracts.settings import ContractsSettings
from skileez_events import (
    CloudEvent,
    EventData,
    Names,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    new_event,
)
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.schemas import producer_of
from skileez_events.testing import wait_until
from skileez_events.topology import declare_exchanges
from skileez_web.auth import mint_token
from skileez_web.database import migrate

SECRET = "contracts-test-secret-" + "x" * 48
PAYMENTS_URL = "http://payments.test"
SCHEDULING_URL = "http://scheduling.test"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Contracts:
    """The running service, and what a test does with it."""

    client: TestClient[Any, Any]
    settings: ContractsSettings
    names: Names
    amqp_url: str

    # --- callers ---------------------------------------------------------------------------

    def token(self, user_id: str, role: str, ttl: int = 3600, name: str | None = None) -> str:
        return mint_token(SECRET, user_id, role, ttl_seconds=ttl, name=name)

    def as_user(self, user_id: str, role: str, name: str | None = None) -> dict[str, str]:
        return bearer(self.token(user_id, role, name=name))

    def coach(self, user_id: str = "coach-1") -> dict[str, str]:
        return self.as_user(user_id, "coach")

    def student(self, user_id: str = "student-1") -> dict[str, str]:
        return self.as_user(user_id, "student")

    # --- the flow ----------------------------------------------------------------------------

    async def propose(self, coach: str = "coach-1", **overrides: Any) -> dict[str, Any]:
        body = {
            "student_id": "student-1",
            "title": "Ten sessions of chess",
            "description": "Openings and endgames",
            "session_count": 10,
            "price_per_session": 5_000,
            "currency": "eur",
            **overrides,
        }
        response = await self.client.post("/proposals", json=body, headers=self.coach(coach))
        assert response.status == 201, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    async def accepted_proposal(self, **overrides: Any) -> dict[str, Any]:
        offer = await self.propose(**overrides)
        response = await self.client.post(
            f"/proposals/{offer['id']}/accept", headers=self.student(offer["student_id"])
        )
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    async def contract(self, **overrides: Any) -> dict[str, Any]:
        offer = await self.accepted_proposal(**overrides)
        response = await self.client.post(
            "/contracts",
            json={"proposal_id": offer["id"]},
            headers=self.student(offer["student_id"]),
        )
        assert response.status == 201, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    async def get_contract(self, contract_id: str, user: str = "student-1") -> dict[str, Any]:
        response = await self.client.get(f"/contracts/{contract_id}", headers=self.student(user))
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    # --- the bus -----------------------------------------------------------------------------

    async def publish(self, event: CloudEvent, copies: int = 1) -> None:
        """Publish as its producer (payments, scheduling) would, `copies` times at once, with
        confirms."""
        async with await aio_pika.connect(self.amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = (await declare_exchanges(channel, self.names))[producer_of(event.type)]
            message = aio_pika.Message(
                event.to_json(),
                content_type=CONTENT_TYPE,
                message_id=event.id,
                correlation_id=event.correlationid,
                type=event.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await asyncio.gather(
                *(exchange.publish(message, routing_key=event.type) for _ in range(copies))
            )

    async def handled(self, event: CloudEvent) -> bool:
        """Whether the consumer has committed `event` (its inbox row exists)."""
        query = select(func.count()).select_from(inbox.table)
        return await self.scalar(query.where(inbox.table.c.event_id == event.id)) == 1

    async def settle(self, event: CloudEvent) -> None:
        """Wait until `event` is handled and no delivery of it is still in flight."""
        await wait_until(lambda: self.handled(event))
        await self.consumer.drain()

    @property
    def consumer(self) -> Any:
        return self.client.app[CONSUMER]

    # --- the database ------------------------------------------------------------------------

    async def scalar(self, query: Any) -> Any:
        async with self.client.app[ENGINE].connect() as conn:
            return (await conn.execute(query)).scalar()

    async def count(self, table: Table, *where: Any) -> int:
        return int(await self.scalar(select(func.count()).select_from(table).where(*where)))

    async def outbox_events(self, event_type: str | None = None) -> list[CloudEvent]:
        query = select(outbox.table.c.body).order_by(outbox.table.c.seq)
        if event_type is not None:
            query = query.where(outbox.table.c.event_type == event_type)
        async with self.client.app[ENGINE].connect() as conn:
            return [CloudEvent.from_json(body) for (body,) in await conn.execute(query)]

    async def all_sent(self) -> bool:
        return await self.count(outbox.table, outbox.table.c.sent_at.is_(None)) == 0

    async def notifications_for(self, contract_id: str) -> int:
        return await self.count(
            notifications, notifications.c.contract_id == uuid.UUID(contract_id)
        )

    async def page(self, contract_id: str, user: str = "student-1") -> str:
        """The contract's HTML page, as `user`'s browser gets it."""
        response = await self.client.get(
            f"/contracts/{contract_id}",
            cookies={"skileez_token": self.token(user, "student")},
            headers={"Accept": "text/html"},
        )
        assert response.status == 200
        return await response.text()

    async def deliver(self, *events: CloudEvent, copies: int = 1) -> None:
        """Publish each event in turn and wait until it is handled."""
        for event in events:
            await self.publish(event, copies=copies)
            await self.settle(event)

    async def contract_row(self, contract_id: str) -> Any:
        async with self.client.app[ENGINE].connect() as conn:
            query = select(contracts).where(contracts.c.id == uuid.UUID(contract_id))
            return (await conn.execute(query)).one()


@pytest.fixture
async def service(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> AsyncIterator[Contracts]:
    url = await create_database("contracts")
    await asyncio.to_thread(migrate, "skileez_contracts", url)
    settings = ContractsSettings(
        database_url=url,
        amqp_url=amqp_url,
        events_namespace=events_names.namespace,
        jwt_secret=SECRET,
        payments_url=PAYMENTS_URL,
        scheduling_url=SCHEDULING_URL,
        db_pool_size=5,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        await wait_until(lambda: client.app[CONSUMER].ready)
        yield Contracts(client, settings, events_names, amqp_url)


# --- incoming events -------------------------------------------------------------------------


def _payment_event(data: EventData, contract_id: str) -> CloudEvent:
    return new_event(data, subject=contract_id)


@pytest.fixture
def payment_succeeded() -> Callable[..., CloudEvent]:
    def make(contract: dict[str, Any], **overrides: Any) -> CloudEvent:
        fields = {
            "payment_id": uuid.uuid4(),
            "contract_id": contract["id"],
            "amount": contract["amount"],
            "currency": contract["currency"],
            "stripe_checkout_session_id": "cs_test_1",
            "stripe_payment_intent_id": "pi_test_1",
            "paid_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentSucceeded(**fields), contract["id"])

    return make


@pytest.fixture
def payment_processing() -> Callable[..., CloudEvent]:
    def make(contract: dict[str, Any], **overrides: Any) -> CloudEvent:
        fields = {
            "payment_id": uuid.uuid4(),
            "contract_id": contract["id"],
            "amount": contract["amount"],
            "currency": contract["currency"],
            "stripe_checkout_session_id": "cs_test_1",
            "processing_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentProcessing(**fields), contract["id"])

    return make


@pytest.fixture
def payment_failed() -> Callable[..., CloudEvent]:
    def make(contract: dict[str, Any], **overrides: Any) -> CloudEvent:
        fields = {
            "payment_id": uuid.uuid4(),
            "contract_id": contract["id"],
            "reason": "card_declined",
            "stripe_checkout_session_id": "cs_test_1",
            "failed_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentFailed(**fields), contract["id"])

    return make


@pytest.fixture
def payment_refunded() -> Callable[..., CloudEvent]:
    def make(contract: dict[str, Any], **overrides: Any) -> CloudEvent:
        fields = {
            "payment_id": uuid.uuid4(),
            "contract_id": contract["id"],
            "refund_amount": contract["amount"],
            "total_refunded": contract["amount"],
            "currency": contract["currency"],
            "fully_refunded": True,
            "stripe_refund_id": "re_test_1",
            "refunded_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentRefunded(**fields), contract["id"])

    return make


@pytest.fixture
def payment_disputed() -> Callable[..., CloudEvent]:
    def make(contract: dict[str, Any], payment_id: str, **overrides: Any) -> CloudEvent:
        fields = {
            "payment_id": payment_id,
            "contract_id": contract["id"],
            "stripe_dispute_id": "dp_test_1",
            "amount": contract["amount"],
            "currency": contract["currency"],
            "reason": "fraudulent",
            "disputed_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentDisputed(**fields), contract["id"])

    return make


@pytest.fixture
def payment_dispute_closed() -> Callable[..., CloudEvent]:
    def make(
        contract: dict[str, Any], payment_id: str, outcome: str, **overrides: Any
    ) -> CloudEvent:
        fields = {
            "payment_id": payment_id,
            "contract_id": contract["id"],
            "stripe_dispute_id": "dp_test_1",
            "outcome": outcome,
            "closed_at": datetime.now(UTC),
            **overrides,
        }
        return _payment_event(PaymentDisputeClosed(**fields), contract["id"])

    return make


# --- tokens that must be refused ---------------------------------------------------------------


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


@pytest.fixture
def bad_tokens() -> dict[str, str]:
    """Tokens for `coach-1` that must all be refused with 401."""
    now = int(time.time())
    claims = {"sub": "coach-1", "role": "coach", "iat": now, "exp": now + 3600}
    return {
        "expired": mint_token(SECRET, "coach-1", "coach", ttl_seconds=-60),
        "forged": jwt.encode(claims, "another-secret-of-at-least-32-bytes!", algorithm="HS256"),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "no_exp": jwt.encode({"sub": "coach-1", "role": "coach"}, SECRET, algorithm="HS256"),
        "hs512": jwt.encode(claims, SECRET, algorithm="HS512"),
        "unknown_role": jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256"),
        "garbage": "not-a-jwt",
    }
