"""The system as its clients see it: a student, a coach and an admin calling it over HTTP
(the e2e tests, the chaos run)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

import aiohttp

from skileez_events.testing import wait_until
from skileez_system.system import System
from skileez_web.auth import Role, mint_token


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


NAMES = {Role.STUDENT: "Ana Silva", Role.COACH: "Coach Rui", Role.ADMIN: "Admin Eva"}
"""The display name each role's actor has in its token (pages and notifications show it)."""


class Actor:
    def __init__(self, http: aiohttp.ClientSession, system: System, role: Role) -> None:
        self.user_id = f"{role}-{uuid.uuid4().hex[:8]}"
        self.name = NAMES[role]
        self.token = mint_token(system.config.jwt_secret, self.user_id, role, name=self.name)
        self._http = http
        self._system = system

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        json: Any = None,
        replica: int = 0,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = f"{self._system.url(service, replica)}{path}"
        async with self._http.request(
            method,
            url,
            json=json,
            headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
            allow_redirects=False,
        ) as response:
            body = (
                await response.json() if "json" in response.content_type else await response.text()
            )
            return Answer(response.status, body, dict(response.headers))


@dataclass
class Parties:
    student: Actor
    coach: Actor
    admin: Actor


class Emulator:
    """The Stripe emulator's control API."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, secret_key: str) -> None:
        self._http = http
        self.base_url = base_url
        self.secret_key = secret_key

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._http.post(f"{self.base_url}/_emulator{path}", json=body or {}) as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def get(self, path: str) -> Any:
        async with self._http.get(f"{self.base_url}/_emulator{path}") as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def expire(self, session_id: str) -> None:
        """Expire a session through Stripe's own API, as the dashboard or Stripe's timer would."""
        async with self._http.post(
            f"{self.base_url}/v1/checkout/sessions/{session_id}/expire",
            headers={"Authorization": f"Bearer {self.secret_key}"},
        ) as response:
            assert response.status == 200, await response.text()

    async def complete(self, session_id: str, outcome: str, **extra: Any) -> Any:
        return await self.post(
            f"/checkout/sessions/{session_id}/complete", {"outcome": outcome, **extra}
        )


async def pending_contract(
    parties: Parties, price_per_session: int = 4_500, sessions: int = 4, replica: int = 0
) -> Any:
    """Proposal -> accept -> contract: the contract as the student sees it, still pending."""
    proposal = await parties.coach.call(
        "POST",
        "contracts",
        "/proposals",
        {
            "student_id": parties.student.user_id,
            "title": "Endgame technique",
            "description": "Rook endgames, four sessions",
            "session_count": sessions,
            "price_per_session": price_per_session,
            "currency": "eur",
        },
        replica=replica,
    )
    assert proposal.status == 201, proposal.body
    accepted = await parties.student.call(
        "POST", "contracts", f"/proposals/{proposal.body['id']}/accept", replica=replica
    )
    assert accepted.status == 200, accepted.body
    contract = await parties.student.call(
        "POST", "contracts", "/contracts", {"proposal_id": proposal.body["id"]}, replica=replica
    )
    assert contract.status == 201, contract.body
    assert contract.body["status"] == "pending"
    return contract.body


async def start_checkout(student: Actor, contract_id: str, replica: int = 0) -> Any:
    """Press Pay as the student, once payments has learnt the contract from ContractCreated."""

    async def pay() -> Answer | None:
        answer = await student.call(
            "POST", "payments", f"/contracts/{contract_id}/pay", replica=replica
        )
        return None if answer.status == 404 else answer

    answer = cast(Answer, await wait_until(pay, timeout=20))
    assert answer.status in (200, 201), answer.body
    return answer.body


async def contract_where(actor: Actor, contract_id: str, **expected: Any) -> Any:
    """Wait until the contract shows every expected field value; return it."""

    async def probe() -> Any:
        answer = await actor.call("GET", "contracts", f"/contracts/{contract_id}")
        matches = all(answer.body.get(key) == value for key, value in expected.items())
        return answer.body if matches else None

    return await wait_until(probe, timeout=30)


@dataclass
class Paid:
    contract: Any
    checkout: Any
    completion: Any


async def paid_contract(parties: Parties, emulator: Emulator) -> Paid:
    """A contract paid by card at Stripe and seen active by its student."""
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])
    completion = await emulator.complete(checkout["checkout_session_id"], "paid")
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")
    return Paid(contract, checkout, completion)
