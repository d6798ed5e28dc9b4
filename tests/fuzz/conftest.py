"""The running system for the fuzzing: every service a real process (tools/system, as the e2e
tests start it), started once for the module, with a small world of real objects in it
(proposals, contracts pending and paid, a payment, a session) whose ids the fuzzer is given, so
it reaches past 404 into the routes' rules.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import aiohttp
import pytest
import pytest_asyncio

from skileez_events import Names
from skileez_events.topology import delete_topology
from skileez_system.client import Actor, Emulator, Parties
from skileez_system.system import BUSY_USER_ROUTE_LIMIT, System, SystemConfig, with_free_ports
from skileez_web.auth import Role

from .world import World, populate

OUTPUT = Path(__file__).parents[2] / "test-output" / "fuzz"
JWT_SECRET = "fuzz-jwt-secret-0123456789abcdef0123456789"
WEBHOOK_SECRET = "whsec_fuzz_0123456789abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(postgres_server_url: str, amqp_url: str) -> AsyncIterator[World]:
    """The whole system, one replica of each service, populated; removed after the module."""
    names = Names(f"test-{uuid.uuid4().hex[:12]}.")
    config = SystemConfig(
        postgres_url=postgres_server_url,
        amqp_url=amqp_url,
        namespace=names.namespace,
        jwt_secret=JWT_SECRET,
        webhook_secret=WEBHOOK_SECRET,
        workdir=OUTPUT,
        database_prefix=f"fuzz_{uuid.uuid4().hex[:10]}_",
        # Past the per-user limit on routes that call Stripe, to fuzz the routes themselves.
        stripe_route_limit=BUSY_USER_ROUTE_LIMIT,
    )
    shutil.rmtree(OUTPUT, ignore_errors=True)  # each run's logs alone
    system = System(with_free_ports(config))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            await system.create_databases()
            await system.migrate()
            await system.start()
            parties = Parties(
                student=Actor(http, system, Role.STUDENT),
                coach=Actor(http, system, Role.COACH),
                admin=Actor(http, system, Role.ADMIN),
            )
            emulator = Emulator(http, system.url("emulator"), config.stripe_secret_key)
            ids = await populate(parties, emulator)
        except Exception:
            print(system.logs())
            await teardown(system, amqp_url, names)
            raise
        yield World(system, parties, ids)
    await teardown(system, amqp_url, names)


async def teardown(system: System, amqp_url: str, names: Names) -> None:
    await system.stop()
    await system.drop_databases()
    async with await aio_pika.connect(amqp_url) as connection:
        await delete_topology(await connection.channel(), names)


@pytest.fixture(params=[Role.STUDENT, Role.COACH, Role.ADMIN], ids=str)
def role(request: pytest.FixtureRequest) -> Role:
    """Each fuzzing runs as each kind of caller, with the token of the world's party."""
    return Role(request.param)
