"""Setting up the contracts to pay, through the real API, concurrently and outside the timings.

For each contract: the coach proposes, the student accepts and takes the contract, and once
payments has learnt it from ContractCreated the student presses Pay, which creates the
Checkout Session at the emulator. What the bench keeps is what a signed
`checkout.session.completed` must carry to match that payment.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import aiohttp

from skileez_system.system import System
from skileez_web.auth import Role, mint_token

PRICE_PER_SESSION = 4_500
SESSIONS = 4
CURRENCY = "eur"
PARTIES = 50
"""Contracts are spread over this many coaches and students."""


@dataclass(frozen=True)
class PayableContract:
    contract_id: str
    student_token: str
    payment_id: str
    checkout_session_id: str
    amount: int
    currency: str


class SetupFailed(RuntimeError):
    pass


async def create_contracts(
    system: System, count: int, concurrency: int = 48
) -> list[PayableContract]:
    secret = system.config.jwt_secret
    run = uuid.uuid4().hex[:6]
    coaches = [mint_token(secret, f"bench-coach-{run}-{i}", Role.COACH) for i in range(PARTIES)]
    students = [
        (f"bench-student-{run}-{i}", mint_token(secret, f"bench-student-{run}-{i}", Role.STUDENT))
        for i in range(PARTIES)
    ]
    contracts_url, payments_url = system.url("contracts"), system.url("payments")
    created: list[PayableContract | None] = [None] * count
    cursor = iter(range(count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as http:

        async def call(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
            async with http.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                return response.status, await response.json()

        async def one(index: int) -> PayableContract:
            coach = coaches[index % PARTIES]
            student_id, student = students[index % PARTIES]
            status, proposal = await call(
                "POST",
                f"{contracts_url}/proposals",
                coach,
                {
                    "student_id": student_id,
                    "title": "Endgame technique",
                    "description": "Rook endgames, four sessions",
                    "session_count": SESSIONS,
                    "price_per_session": PRICE_PER_SESSION,
                    "currency": CURRENCY,
                },
            )
            _expect(status, 201, proposal)
            status, body = await call(
                "POST", f"{contracts_url}/proposals/{proposal['id']}/accept", student
            )
            _expect(status, 200, body)
            status, contract = await call(
                "POST", f"{contracts_url}/contracts", student, {"proposal_id": proposal["id"]}
            )
            _expect(status, 201, contract)
            deadline = time.monotonic() + 60
            while True:  # payments learns the contract from ContractCreated
                status, pay = await call(
                    "POST", f"{payments_url}/contracts/{contract['id']}/pay", student
                )
                if status != 404 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            _expect(status, 201, pay)
            return PayableContract(
                contract_id=contract["id"],
                student_token=student,
                payment_id=pay["payment_id"],
                checkout_session_id=pay["checkout_session_id"],
                amount=contract["amount"],
                currency=contract["currency"],
            )

        async def worker() -> None:
            for index in cursor:
                created[index] = await one(index)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return [c for c in created if c is not None]


def _expect(status: int, expected: int, body: Any) -> None:
    if status != expected:
        raise SetupFailed(f"expected {expected}, got {status}: {body}")


def _fixture_session() -> dict[str, Any]:
    text = files("stripe_emulator").joinpath("fixtures3.json").read_text("utf-8")
    session: dict[str, Any] = json.loads(text)["resources"]["checkout.session"]
    return session


_SESSION = _fixture_session()


def completed_event(contract: PayableContract) -> bytes:
    """`checkout.session.completed` for the contract's session, built from Stripe's fixture."""
    session = copy.deepcopy(_SESSION)
    session.update(
        id=contract.checkout_session_id,
        status="complete",
        payment_status="paid",
        amount_total=contract.amount,
        amount_subtotal=contract.amount,
        currency=contract.currency,
        livemode=False,
        client_reference_id=contract.contract_id,
        metadata={"contract_id": contract.contract_id, "payment_id": contract.payment_id},
        payment_intent=f"pi_bench_{uuid.uuid4().hex[:20]}",
    )
    event = {
        "id": f"evt_bench_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
        "data": {"object": session},
    }
    return json.dumps(event).encode()
