"""The whole system as real processes, through tools/system: one way to start it everywhere.

Each test gets fresh databases, its own EVENTS_NAMESPACE, free ports, and an output folder
(`test-output/e2e/<test>/`) with every process's log and any screenshots; the logs are shown
when the test fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from skileez_events import Names
from skileez_system.client import Actor, Emulator, Parties
from skileez_system.system import BUSY_USER_ROUTE_LIMIT, System, SystemConfig, with_free_ports
from skileez_web.auth import Role

OUTPUT = Path(__file__).parents[2] / "test-output" / "e2e"
JWT_SECRET = "e2e-jwt-secret-0123456789abcdef0123456789"
WEBHOOK_SECRET = "whsec_e2e_0123456789abcdef"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    path = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def system_config(
    postgres_server_url: str, amqp_url: str, events_names: Names, output_dir: Path
) -> Callable[..., SystemConfig]:
    """Factory: a system config on fresh ports; keyword arguments override its fields."""

    def make(**overrides: Any) -> SystemConfig:
        config = SystemConfig(
            postgres_url=postgres_server_url,
            amqp_url=amqp_url,
            namespace=events_names.namespace,
            jwt_secret=JWT_SECRET,
            webhook_secret=WEBHOOK_SECRET,
            workdir=output_dir,
            database_prefix=f"e2e_{uuid.uuid4().hex[:10]}_",
            stripe_route_limit=BUSY_USER_ROUTE_LIMIT,
        )
        return with_free_ports(SystemConfig(**{**config.__dict__, **overrides}))

    return make


@pytest.fixture
async def start_system(
    request: pytest.FixtureRequest, system_config: Callable[..., SystemConfig]
) -> AsyncIterator[Callable[..., Any]]:
    """Factory: `system = await start_system(replicas=2, ...)` migrates and starts everything."""
    started: list[System] = []

    async def start(**overrides: Any) -> System:
        system = System(system_config(**overrides))
        started.append(system)
        await system.create_databases()
        await system.migrate()
        await system.start()
        return system

    yield start
    failed = getattr(request.node, "report_call", None)
    for system in started:
        await system.stop()
        if failed is not None and failed.failed:
            print(system.logs())
        await system.drop_databases()


@pytest.fixture
async def system(start_system: Callable[..., Any]) -> System:
    """The whole system, one replica of each service."""
    return await start_system()  # type: ignore[no-any-return]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def parties(http: aiohttp.ClientSession, system: System) -> Parties:
    return Parties(
        student=Actor(http, system, Role.STUDENT),
        coach=Actor(http, system, Role.COACH),
        admin=Actor(http, system, Role.ADMIN),
    )


@pytest.fixture
def emulator(http: aiohttp.ClientSession, system: System) -> Emulator:
    return Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
