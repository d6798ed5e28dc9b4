"""The payments service under test: a real app on a real port, its own database and namespace."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events import ContractCreated, Names, new_event
from skileez_events.testing import wait_until
from skileez_events.topology import declare_exchanges
from skileez_payments.adapters.tables import contracts
from skileez_payments.entrypoints.app import create_app
from skileez_payments.entrypoints.resources import CONSUMER, ENGINE
from skileez_payments.settings import PaymentsSettings
from skileez_web.auth import Role, mint_token
from skileez_web.database import migrate
from stripe_emulator.testing import EmulatorControl, running_emulator

from .stripe_payloads import sign
from .stripe_recorder import StripeRecorder, recording_stripe

WEBHOOK_SECRET = "whsec_test_current"
OLD_WEBHOOK_SECRET = "whsec_test_previous"
JWT_SECRET = "jwt-secret-for-the-payments-tests-0123456789"
STRIPE_KEY = "sk_test_payments_suite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Payments:
    """The running service, and what tests do to it."""

    client: TestClient[web.Request, web.Application]
    app: web.Application
    amqp_url: str
    names: Names
    emulator: EmulatorControl
    stripe: StripeRecorder
    """What payments asked of Stripe: it reaches the emulator through this recorder."""

    def headers(self, user: str, role: Role | str = Role.STUDENT, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user, role)}", **extra}

    async def learn_contract(self, **overrides: Any) -> ContractCreated:
        """Publish ContractCreated on the broker and wait until payments has learnt it."""
        data = ContractCreated.model_validate(
            {
                "contract_id": uuid.uuid4(),
                "proposal_id": uuid.uuid4(),
                "student_id": f"student-{uuid.uuid4().hex[:6]}",
                "coach_id": f"coach-{uuid.uuid4().hex[:6]}",
                "title": "Ten sessions of chess",
                "session_count": 10,
                "amount": 50_000,
                "currency": "eur",
                "created_at": datetime.now(UTC),
                **overrides,
            }
        )
        envelope = new_event(data, subject=str(data.contract_id))
        await wait_until(lambda: self.app[CONSUMER].ready)
        async with await aio_pika.connect(self.amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            exchanges = await declare_exchanges(channel, self.names)
            await exchanges["contracts"].publish(
                aio_pika.Message(envelope.to_json(), message_id=envelope.id),
                routing_key=envelope.type,
            )

        async def learnt() -> bool:
            async with AsyncSession(self.app[ENGINE]) as session:
                found = await session.scalar(
                    select(contracts.c.id).where(contracts.c.id == data.contract_id)
                )
            return found is not None

        await wait_until(learnt)
        return data

    async def post_webhook(
        self,
        event: dict[str, Any],
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> ClientResponse:
        body = json.dumps(event).encode()
        return await self.client.post(
            "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": sign(body, secret, timestamp)},
        )

    async def payment(self, payment_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/payments/{payment_id}", headers=self.headers("admin-1", Role.ADMIN)
        )
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def pay(
        self, contract: ContractCreated, user: str | None = None, correlation_id: str = ""
    ) -> ClientResponse:
        headers = self.headers(user or contract.student_id)
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        return await self.client.post(f"/contracts/{contract.contract_id}/pay", headers=headers)


StartPayments = Callable[..., Awaitable[Payments]]


@pytest.fixture
async def start_payments(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> AsyncIterator[StartPayments]:
    """Factory: `await start_payments(**settings)` -> a running service and its Stripe emulator."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Payments:
            database_url = await create_database("payments")
            await asyncio.to_thread(migrate, "skileez_payments", database_url)
            port = free_port()
            webhook_url = f"http://127.0.0.1:{port}/webhooks/stripe"
            api_base = await stack.enter_async_context(
                running_emulator(webhooks=[(webhook_url, WEBHOOK_SECRET)])
            )
            stripe = await stack.enter_async_context(recording_stripe(api_base))
            settings = PaymentsSettings(
                database_url=database_url,
                amqp_url=amqp_url,
                events_namespace=events_names.namespace,
                jwt_secret=JWT_SECRET,
                stripe_secret_key=STRIPE_KEY,
                stripe_webhook_secret=f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
                stripe_api_base=stripe.url,
                payments_url=f"http://127.0.0.1:{port}",
                **overrides,
            )
            app = create_app(settings)
            client = await stack.enter_async_context(
                TestClient(TestServer(app, host="127.0.0.1", port=port))
            )
            return Payments(client, app, amqp_url, events_names, EmulatorControl(api_base), stripe)

        yield start


@pytest.fixture
async def payments(start_payments: StartPayments) -> Payments:
    """The service talking to the Stripe emulator, which delivers signed webhooks to it."""
    return await start_payments()
