"""The whole system as real processes: the three services of the payment flow and the
operators' backoffice (any number of replicas of each) and the Stripe emulator, each on its own
database, all on one broker namespace.

Used by the local run (`python -m skileez_system up`), the e2e tests and the bench, so there
is one way to start the system.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import asyncpg
from sqlalchemy.engine import make_url

from skileez_system.processes import ManagedProcess, ProcessSpec

SERVICES = ("contracts", "payments", "scheduling")
"""The services of the payment flow (what the chaos run faults and checks)."""
ALL_SERVICES = (*SERVICES, "backoffice")
"""Every service the system starts: the flow's, and the operators' console fed by their events."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BUSY_USER_ROUTE_LIMIT = 1_000_000
"""A Stripe route limit that one test or bench user acting for many never meets."""


@dataclass(frozen=True)
class SystemConfig:
    postgres_url: str
    """Server-level URL (`postgresql://user@host:port/postgres`) whose user may create databases."""
    amqp_url: str
    namespace: str
    jwt_secret: str
    webhook_secret: str
    workdir: Path
    database_prefix: str = "skileez_"
    replicas: int = 1
    ports: dict[str, list[int]] = field(default_factory=dict)
    """Ports per service (one per replica) and for `emulator`; free ports where not given."""
    stripe_secret_key: str = "sk_test_emulator"  # noqa: S105 - the emulator takes any test key
    stripe_route_limit: int | None = None
    """Requests per minute (and burst) per user on payments' routes that call Stripe; None keeps
    the service's default. Load generators and tests that act as one busy user raise it."""
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """More environment per service, e.g. a short reconciliation interval for a test."""

    def port(self, name: str, replica: int = 0) -> int:
        return self.ports[name][replica]


def with_free_ports(config: SystemConfig) -> SystemConfig:
    ports = {name: [free_port() for _ in range(config.replicas)] for name in ALL_SERVICES}
    ports["emulator"] = [free_port()]
    return SystemConfig(**{**config.__dict__, "ports": {**ports, **config.ports}})


class System:
    def __init__(self, config: SystemConfig, echo: TextIO | None = None) -> None:
        self.config = config
        self.echo = echo
        self.processes: dict[str, ManagedProcess] = {}
        config.workdir.mkdir(parents=True, exist_ok=True)

    # -- addresses -------------------------------------------------------------------------

    def url(self, name: str, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.config.port(name, replica)}"

    def database_url(self, service: str) -> str:
        server = make_url(self.config.postgres_url)
        return server.set(
            drivername="postgresql+asyncpg", database=f"{self.config.database_prefix}{service}"
        ).render_as_string(hide_password=False)

    @property
    def webhook_url(self) -> str:
        return f"{self.url('payments')}/webhooks/stripe"

    # -- databases -------------------------------------------------------------------------

    async def create_databases(self) -> None:
        """Create each service's database if it does not exist yet."""
        admin = await asyncpg.connect(self._server_dsn())
        try:
            for service in ALL_SERVICES:
                name = f"{self.config.database_prefix}{service}"
                exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
                if not exists:
                    await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    async def drop_databases(self) -> None:
        admin = await asyncpg.connect(self._server_dsn())
        try:
            for service in ALL_SERVICES:
                name = f"{self.config.database_prefix}{service}"
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def _server_dsn(self) -> str:
        url = make_url(self.config.postgres_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def migrate(self) -> None:
        """Run each service's own `migrate` command, as a deployment's migration job would."""
        for service in ALL_SERVICES:
            process = self._process(
                ProcessSpec(
                    f"{service}-migrate", f"skileez_{service}", ("migrate",), self.env(service, 0)
                )
            )
            await process.start()
            assert process.process is not None
            code = await process.process.wait()
            await process.stop()
            if code != 0:
                raise RuntimeError(f"{service} migrate failed:\n{process.log_tail()}")

    # -- processes -------------------------------------------------------------------------

    def env(self, service: str, replica: int) -> dict[str, str]:
        config = self.config
        env = {
            "DATABASE_URL": self.database_url(service),
            "AMQP_URL": config.amqp_url,
            "EVENTS_NAMESPACE": config.namespace,
            "HOST": "127.0.0.1",
            "PORT": str(config.port(service, replica)),
            "JWT_SECRET": config.jwt_secret,
            "CONTRACTS_URL": self.url("contracts"),
            "PAYMENTS_URL": self.url("payments"),
            "SCHEDULING_URL": self.url("scheduling"),
        }
        if service == "payments":
            env |= {
                "STRIPE_SECRET_KEY": config.stripe_secret_key,
                "STRIPE_PUBLISHABLE_KEY": "pk_test_emulator",
                "STRIPE_WEBHOOK_SECRET": config.webhook_secret,
                "STRIPE_API_BASE": self.url("emulator"),
            }
            if config.stripe_route_limit is not None:
                env["STRIPE_ROUTE_LIMIT_PER_MINUTE"] = str(config.stripe_route_limit)
                env["STRIPE_ROUTE_LIMIT_BURST"] = str(config.stripe_route_limit)
        if service == "backoffice":
            env |= {
                "BACKOFFICE_URL": self.url("backoffice"),
                "CONTRACTS_API_URL": self.url("contracts"),
                "PAYMENTS_API_URL": self.url("payments"),
                "SCHEDULING_API_URL": self.url("scheduling"),
            }
        return env | config.extra_env.get(service, {})

    def specs(self) -> list[ProcessSpec]:
        emulator = ProcessSpec(
            "emulator",
            "stripe_emulator",
            (
                "--port",
                str(self.config.port("emulator")),
                "--webhook",
                f"{self.webhook_url}={self.config.webhook_secret}",
            ),
            self.config.extra_env.get("emulator", {}),
            ready_url=f"{self.url('emulator')}/_emulator/health",
        )
        services = [
            ProcessSpec(
                self.process_name(service, replica),
                f"skileez_{service}",
                ("serve",),
                self.env(service, replica),
                ready_url=f"{self.url(service, replica)}/health/ready",
            )
            for service in ALL_SERVICES
            for replica in range(self.config.replicas)
        ]
        return [emulator, *services]

    def process_name(self, service: str, replica: int = 0) -> str:
        return service if self.config.replicas == 1 else f"{service}-{replica + 1}"

    def _process(self, spec: ProcessSpec) -> ManagedProcess:
        process = ManagedProcess(spec, self.config.workdir / f"{spec.name}.log", self.echo)
        self.processes[spec.name] = process
        return process

    async def start(self, timeout: float = 60.0) -> None:
        """Start the emulator and every service replica, and wait until each is ready."""
        started = [self._process(spec) for spec in self.specs()]
        for process in started:
            await process.start()
        await asyncio.gather(*(process.wait_ready(timeout) for process in started))

    async def restart(self, name: str, timeout: float = 60.0) -> None:
        process = self.processes[name]
        await process.start()
        await process.wait_ready(timeout)

    async def stop(self) -> None:
        """SIGTERM every process we started, by its PID; SIGKILL what does not exit in time."""
        await asyncio.gather(*(process.stop() for process in self.processes.values()))

    def logs(self) -> str:
        return "\n".join(
            f"===== {name} (pid {process.pid}) =====\n{process.log_tail()}"
            for name, process in self.processes.items()
        )
