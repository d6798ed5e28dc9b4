"""Faults in the middle of the flow: the broker cut, a service SIGKILLed, the database cut.

After each: no payment lost, none applied twice, every service ready again by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from test_payment_flows import notifications
from test_payment_variants import payment_where
from yarl import URL

from skileez_events.testing import TcpProxy, wait_until
from skileez_system.client import (
    Actor,
    Emulator,
    Parties,
    contract_where,
    pending_contract,
    start_checkout,
)
from skileez_system.system import SERVICES, System
from skileez_web.auth import Role


async def ready(http: aiohttp.ClientSession, system: System, name: str) -> bool:
    try:
        async with http.get(f"{system.url(name)}/health/ready") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def actors(http: aiohttp.ClientSession, system: System) -> Parties:
    return Parties(*(Actor(http, system, role) for role in (Role.STUDENT, Role.COACH, Role.ADMIN)))


async def test_the_broker_cut_and_restored_mid_flow_loses_nothing_and_everyone_recovers(
    start_system: Callable[..., Any], amqp_url: str, http: aiohttp.ClientSession
) -> None:
    broker = URL(amqp_url)
    proxy = TcpProxy(broker.host or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    through_proxy = {"AMQP_URL": proxy.url_for(amqp_url)}
    system = await start_system(extra_env={service: through_proxy for service in SERVICES})
    parties = actors(http, system)
    emulator = Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])

    await proxy.cut()
    for service in SERVICES:
        await wait_until(lambda service=service: not_(ready(http, system, service)), timeout=30)
    await emulator.complete(checkout["checkout_session_id"], "paid")  # webhook still lands
    await payment_where(parties, checkout["payment_id"], status="succeeded")
    still = await parties.student.call("GET", "contracts", f"/contracts/{contract['id']}")
    assert still.body["status"] == "pending"  # PaymentSucceeded waits in the outbox

    await proxy.start()
    for service in SERVICES:
        await wait_until(lambda service=service: ready(http, system, service), timeout=60)
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")
    assert len(await notifications(parties, count=1)) == 1
    await proxy.cut()


async def test_a_service_killed_with_sigkill_while_events_are_in_flight_loses_and_doubles_nothing(
    system: System, parties: Parties, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    contracts = [await pending_contract(parties) for _ in range(8)]
    checkouts = [await start_checkout(parties.student, c["id"]) for c in contracts]
    for checkout in checkouts[:4]:
        await emulator.complete(checkout["checkout_session_id"], "paid")
    await system.processes["contracts"].kill()
    await system.processes["payments"].kill()
    for checkout in checkouts[4:]:  # Stripe keeps retrying while payments is down
        await emulator.complete(checkout["checkout_session_id"], "paid")
    await system.restart("payments")
    await system.restart("contracts")
    for contract in contracts:
        await contract_where(
            parties.student, contract["id"], status="active", payment_status="paid"
        )
    notes = await notifications(parties, count=len(contracts))
    assert sorted(n["contract_id"] for n in notes) == sorted(c["id"] for c in contracts)
    for name in SERVICES:
        assert await ready(http, system, name)


async def test_the_database_cut_for_a_few_seconds_loses_nothing(
    start_system: Callable[..., Any], postgres_server_url: str, http: aiohttp.ClientSession
) -> None:
    server = URL(postgres_server_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.start()
    system = await start_system()
    await system.stop()  # restart every service with its database behind the proxy
    for service in SERVICES:
        system.config.extra_env[service] = {
            "DATABASE_URL": proxy.url_for(system.database_url(service))
        }
    system.processes.clear()
    await system.start()
    parties = actors(http, system)
    emulator = Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])

    await proxy.cut()
    await emulator.complete(checkout["checkout_session_id"], "paid")  # answered 5xx: retried
    await wait_until(lambda: not_(ready(http, system, "contracts")), timeout=30)
    await proxy.start()
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")
    assert len(await notifications(parties, count=1)) == 1
    for service in SERVICES:
        await wait_until(lambda service=service: ready(http, system, service), timeout=60)
    await proxy.cut()


async def not_(value: Any) -> bool:
    return not await value
