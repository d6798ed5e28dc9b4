"""Two replicas of every service on the same databases and broker, under a burst of payments."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from skileez_events import CloudEvent, Names
from skileez_events.testing import tap, wait_until
from skileez_system.client import Actor, Emulator, Parties, pending_contract, start_checkout
from skileez_system.system import System
from skileez_web.auth import Role

T = TypeVar("T")
BURST = 200
REPLICAS = 2


async def bounded(
    count: int, make: Callable[[int], Awaitable[T]], concurrency: int = 16
) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> T:
        async with gate:
            return await make(index)

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def listed(actor: Actor, service: str, path: str, key: str, replica: int = 0) -> list[Any]:
    """Every item of a paginated listing."""
    items: list[Any] = []
    while True:
        answer = await actor.call(
            "GET", service, f"{path}?limit=100&offset={len(items)}", replica=replica
        )
        assert answer.status == 200, answer.body
        page = answer.body[key]
        items += page
        if len(page) < 100:
            return items


async def test_a_burst_of_payments_on_two_replicas_activates_each_contract_once_and_notifies_once(
    start_system: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    system: System = await start_system(replicas=REPLICAS)
    parties = Parties(
        *(Actor(http, system, role) for role in (Role.STUDENT, Role.COACH, Role.ADMIN))
    )
    emulator = Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
    names = Names(system.config.namespace)

    contracts = await bounded(BURST, lambda i: pending_contract(parties, replica=i % REPLICAS))
    checkouts = await bounded(
        BURST,
        lambda i: start_checkout(parties.student, contracts[i]["id"], replica=(i + 1) % REPLICAS),
    )
    async with tap(system.config.amqp_url, names) as published:
        await bounded(
            BURST, lambda i: emulator.complete(checkouts[i]["checkout_session_id"], "paid")
        )

        async def all_active() -> list[Any] | None:
            mine = await listed(parties.student, "contracts", "/contracts", "items", replica=1)
            active = [c for c in mine if c["status"] == "active" and c["payment_status"] == "paid"]
            return mine if len(active) == BURST else None

        await wait_until(all_active, timeout=180, interval=0.5)

        def activations() -> Counter[str] | None:
            counts = Counter(
                event.subject or ""
                for event in (CloudEvent.from_json(m.body) for m in published)
                if event.type == "skileez.contracts.ContractActivated.v1"
            )
            return counts if len(counts) == BURST else None

        counts = await wait_until(activations, timeout=60)
    assert set(counts) == {contract["id"] for contract in contracts}
    assert set(counts.values()) == {1}, "a contract was activated twice"
    succeeded = Counter(
        event.subject or ""
        for event in (CloudEvent.from_json(m.body) for m in published)
        if event.type == "skileez.payments.PaymentSucceeded.v1"
    )
    assert set(succeeded.values()) == {1}, "a payment was published twice"

    notes = await listed(parties.coach, "contracts", "/notifications", "items")
    assert len(notes) == BURST
    assert Counter(note["contract_id"] for note in notes) == Counter(c["id"] for c in contracts)
