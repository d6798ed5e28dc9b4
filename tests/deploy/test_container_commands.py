"""Each container's command line, run outside a container: exactly the command, environment
variable names and health check of docker-compose.yml, with only what a container network
would give (host names, ports, databases, broker) pointed at this machine.

Per service: `migrate` against a fresh database exits 0; `serve`, connected to RabbitMQ as
the service's own restricted user from deploy/rabbitmq, passes the compose health check
(`/health/ready`); on SIGTERM it shuts down gracefully and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from skileez_system.processes import ManagedProcess, ProcessSpec
from skileez_system.system import free_port

SERVICES = ("contracts", "payments", "scheduling")
pytestmark = pytest.mark.timeout(240)


def with_port(url: str, port: int) -> str:
    return str(URL(url).with_host("127.0.0.1").with_port(port))


def spec_of(name: str, command: list[str], env: Mapping[str, str]) -> ProcessSpec:
    assert command[:2] == ["python", "-m"], command
    return ProcessSpec(name, command[2], tuple(command[3:]), dict(env))


async def passes_health_check(test: list[str], port: int, process: ManagedProcess) -> None:
    """Run the compose `healthcheck.test` command (port mapped) until it exits 0."""
    assert test[0] == "CMD"
    command = [sys.executable if part == "python" else part for part in test[1:]]
    command[-1] = with_port(command[-1], port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.running, f"{process.spec.name} exited:\n{process.log_tail()}"
        probe = await asyncio.create_subprocess_exec(*command)
        if await probe.wait() == 0:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{process.spec.name} never passed {command}:\n{process.log_tail()}")


async def stops_gracefully(process: ManagedProcess) -> None:
    assert process.process is not None
    process.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(process.process.wait(), 25)
    except TimeoutError:
        await process.kill()
        raise AssertionError(
            f"{process.spec.name} ignored SIGTERM:\n{process.log_tail()}"
        ) from None
    await process.stop()  # joins the log pump
    assert code == 0, f"{process.spec.name} exited {code} on SIGTERM:\n{process.log_tail()}"


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[list[ManagedProcess]]:
    """Processes a test starts; stopped (by their PID) whatever happens."""
    processes: list[ManagedProcess] = []
    yield processes
    for process in processes:
        await process.stop()


async def start(started: list[ManagedProcess], tmp_path: Path, spec: ProcessSpec) -> ManagedProcess:
    process = ManagedProcess(spec, tmp_path / f"{spec.name}.log")
    started.append(process)
    await process.start()
    return process


async def start_emulator(
    compose: Any, started: list[ManagedProcess], tmp_path: Path, webhook_url: str
) -> tuple[int, ManagedProcess]:
    service = compose.service("stripe-emulator")
    port = free_port()
    command = [
        f"--port={port}" if part.startswith("--port=") else part for part in service["command"]
    ]
    command = [
        f"--public-url=http://127.0.0.1:{port}" if part.startswith("--public-url=") else part
        for part in command
    ]
    assert f"--port={port}" in command
    env = dict(service["environment"])
    _, _, secret = env["STRIPE_EMULATOR_WEBHOOKS"].rpartition("=")
    env["STRIPE_EMULATOR_WEBHOOKS"] = f"{webhook_url}={secret}"
    process = await start(started, tmp_path, spec_of("stripe-emulator", command, env))
    await passes_health_check(service["healthcheck"]["test"], port, process)
    return port, process


async def test_the_emulator_container_command_serves_and_stops_on_sigterm(
    compose: Any, started: list[ManagedProcess], tmp_path: Path
) -> None:
    _, emulator = await start_emulator(
        compose, started, tmp_path, "http://127.0.0.1:9/webhooks/stripe"
    )
    await stops_gracefully(emulator)


@pytest.mark.parametrize("name", SERVICES)
async def test_migrate_then_serve_as_in_the_container(  # type: ignore[no-untyped-def]
    compose: Any,
    create_database,
    broker_users,
    started: list[ManagedProcess],
    tmp_path: Path,
    name: str,
) -> None:
    service, migrate = compose.service(name), compose.service(f"{name}-migrate")
    port = free_port()
    env = dict(service["environment"])
    env |= {
        "DATABASE_URL": await create_database(name),
        "AMQP_URL": broker_users.urls[name],  # the service's own restricted user
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    if name == "payments":
        emulator_port, _ = await start_emulator(
            compose, started, tmp_path, f"http://127.0.0.1:{port}/webhooks/stripe"
        )
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{emulator_port}"
    assert set(env) == set(migrate["environment"])

    migration = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *migrate["command"][2:],
        env={**_inherited(), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(migration.communicate(), 120)
    assert migration.returncode == 0, output.decode(errors="replace")

    process = await start(started, tmp_path, spec_of(name, service["command"], env))
    await passes_health_check(service["healthcheck"]["test"], port, process)
    await stops_gracefully(process)


def _inherited() -> dict[str, str]:
    """What a container's environment would also hold; nothing of this test run's own."""
    return {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
