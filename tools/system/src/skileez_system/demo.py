"""`python -m skileez_system demo`: a demo coach, student and admin, a proposal the student
has accepted and a pending contract, and the sign-in links to click through the whole flow
in a browser (each asked of the service it opens: a code that works once, for minutes).

Runs against a running system (the local run or docker compose); fails with a clear message
when a service does not answer. Everything goes through the services' public APIs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from skileez_web.auth import Role, mint_token

SERVICES = ("contracts", "payments", "scheduling", "backoffice")
DEMO_USERS = {
    Role.COACH: "demo-coach",
    Role.STUDENT: "demo-student",
    Role.ADMIN: "demo-admin",
}
DEMO_NAMES = {
    Role.COACH: "Coach Rui",
    Role.STUDENT: "Ana Silva",
    Role.ADMIN: "Admin Eva",
}
TOKEN_TTL_SECONDS = 12 * 3600


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class DemoConfig:
    jwt_secret: str
    api: Mapping[str, str]
    """Base URL per service as this command reaches it: its public URL (`<SERVICE>_URL`),
    except inside compose. The links printed are the services' own, on their public URLs."""
    session_count: int = 4
    price_per_session: int = 4500
    currency: str = "eur"
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    """`aud` and `iss` of the demo users' tokens, where the services check them."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str], jwt_secret: str) -> DemoConfig:
        public = {
            service: env.get(f"{service.upper()}_URL", f"http://127.0.0.1:{port}").rstrip("/")
            for service, port in zip(SERVICES, (8001, 8002, 8003, 8004), strict=True)
        }
        api = {
            service: env.get(f"DEMO_{service.upper()}_API", public[service]).rstrip("/")
            for service in SERVICES
        }
        return cls(
            jwt_secret=jwt_secret,
            api=api,
            jwt_audience=env.get("JWT_AUDIENCE") or None,
            jwt_issuer=env.get("JWT_ISSUER") or None,
        )


def demo_user_id(role: Role) -> str:
    """Stable ids, so that every demo run's contracts land on the same coach's notifications."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://skileez.example/demo/{DEMO_USERS[role]}"))


@dataclass(frozen=True)
class DemoResult:
    proposal_id: str
    contract_id: str
    links: list[tuple[str, str, str]]
    """(role, what the page is, sign-in link)."""


async def run_demo(config: DemoConfig, timeout: float = 20.0) -> DemoResult:
    tokens = {
        role: mint_token(
            config.jwt_secret,
            demo_user_id(role),
            role,
            TOKEN_TTL_SECONDS,
            name=DEMO_NAMES[role],
            audience=config.jwt_audience,
            issuer=config.jwt_issuer,
        )
        for role in DEMO_USERS
    }
    client_timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=client_timeout) as http:
        for service in SERVICES:
            await _require_ready(http, service, config.api[service])
        proposal = await _call(
            http,
            "POST",
            f"{config.api['contracts']}/proposals",
            tokens[Role.COACH],
            {
                "student_id": demo_user_id(Role.STUDENT),
                "title": "Interview coaching",
                "description": "Created by `python -m skileez_system demo`.",
                "session_count": config.session_count,
                "price_per_session": config.price_per_session,
                "currency": config.currency,
            },
            expect=201,
        )
        proposal_id = str(proposal["id"])
        await _call(
            http,
            "POST",
            f"{config.api['contracts']}/proposals/{proposal_id}/accept",
            tokens[Role.STUDENT],
            None,
            expect=200,
        )
        contract = await _call(
            http,
            "POST",
            f"{config.api['contracts']}/contracts",
            tokens[Role.STUDENT],
            {"proposal_id": proposal_id},
            expect=201,
        )
        contract_id = str(contract["id"])
        # Payments learns the contract from ContractCreated; wait until its page knows it.
        await _wait_for_payments(http, config, tokens[Role.STUDENT], contract_id, timeout)

        pages = [
            (Role.STUDENT, "the accepted proposal", "contracts", f"/proposals/{proposal_id}"),
            (
                Role.STUDENT,
                "the contract (pending until paid)",
                "contracts",
                f"/contracts/{contract_id}",
            ),
            (
                Role.STUDENT,
                "the payment page: press Pay",
                "payments",
                f"/contracts/{contract_id}/pay",
            ),
            (
                Role.STUDENT,
                "the schedule page (book sessions once paid)",
                "scheduling",
                f"/contracts/{contract_id}/schedule",
            ),
            (
                Role.COACH,
                "the notifications (the payment shows up here)",
                "contracts",
                "/notifications",
            ),
            (Role.COACH, "the contract", "contracts", f"/contracts/{contract_id}"),
            (
                Role.ADMIN,
                "the contract's payments (refunds)",
                "payments",
                f"/contracts/{contract_id}/payments",
            ),
            (
                Role.ADMIN,
                "the operators' console (payments, held payments, refunds, reports)",
                "backoffice",
                "/console",
            ),
        ]
        links = []
        for role, page, service, path in pages:
            issued = await _call(
                http,
                "POST",
                f"{config.api[service]}/auth/codes",
                tokens[role],
                {"next": path},
                expect=201,
            )
            links.append((str(role), page, str(issued["url"])))
    return DemoResult(proposal_id=proposal_id, contract_id=contract_id, links=links)


async def _require_ready(http: aiohttp.ClientSession, service: str, base: str) -> None:
    url = f"{base}/health/ready"
    try:
        async with http.get(url) as response:
            if response.status == 200:
                return
            detail = f"answered {response.status}: {(await response.text())[:300]}"
    except (aiohttp.ClientError, TimeoutError) as error:
        detail = f"does not answer ({error.__class__.__name__}: {error})"
    raise DemoError(
        f"{service} at {url} {detail}.\n"
        "Start the system first: `uv run python -m skileez_system up` (local run) or "
        "`docker compose up --build`, wait for 'Skileez is up', then run the demo again."
    )


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str,
    body: dict[str, Any] | None,
    *,
    expect: int,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        async with http.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            if response.status != expect:
                raise DemoError(f"{method} {url} answered {response.status}, not {expect}: {text}")
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise DemoError(f"{method} {url} failed: {error.__class__.__name__}: {error}") from None
    if not isinstance(data, dict):
        raise DemoError(f"{method} {url} answered {text!r}, not a JSON object")
    return data


async def _wait_for_payments(
    http: aiohttp.ClientSession,
    config: DemoConfig,
    student_token: str,
    contract_id: str,
    timeout: float,
) -> None:
    url = f"{config.api['payments']}/contracts/{contract_id}/pay"
    headers = {"Authorization": f"Bearer {student_token}"}
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        async with http.get(url, headers=headers) as response:
            status = response.status
            if status == 200:
                return
        await asyncio.sleep(0.2)
    raise DemoError(
        f"payments has not learnt contract {contract_id} within {timeout:.0f} s "
        f"(GET {url} still answers {status}): is the contracts outbox relay publishing "
        "and the payments consumer running? See their logs."
    )


def print_result(result: DemoResult) -> None:
    print(
        f"\nDemo proposal {result.proposal_id} accepted; contract {result.contract_id} "
        "is pending payment.\n"
    )
    print("Each link asks to confirm, then signs the browser in as that user and opens the")
    print("page (so clicking a link switches users). A link works once, for a few minutes:")
    print("run the demo again for fresh ones. On the Stripe emulator's checkout page choose")
    print("the card 4242 4242 4242 4242 to pay, 4000 0000 0000 0002 to see a decline.\n")
    for role, page, link in result.links:
        print(f"  {role:<8} {page}\n           {link}\n")
