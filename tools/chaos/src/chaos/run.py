"""One chaos run: start the system behind this run's proxies, drive the planned flows while
the planned faults run, wait (bounded) for quiescence, check the invariants, summarize."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import aiohttp
from sqlalchemy.engine import make_url
from yarl import URL

from chaos.checker import State, Violation, check
from chaos.faults import Injector
from chaos.flows import FLOW_STEPS, Driver, FlowError
from chaos.schedule import Plan, plan
from chaos.snapshot import is_kept, read_state
from skileez_events import Names, broker
from skileez_events.testing import TcpProxy
from skileez_events.topology import delete_topology
from skileez_system.servers import check_servers
from skileez_system.system import (
    BUSY_USER_ROUTE_LIMIT,
    SERVICES,
    System,
    SystemConfig,
    with_free_ports,
)
from stripe_emulator.testing import EmulatorControl

log = logging.getLogger("chaos")

CONCURRENCY = 6
"""Flows in flight at once."""
QUIESCENCE_TIMEOUT = 180.0
RECONCILE_INTERVAL_SECONDS = 5
"""Payments' reconciliation pass, short: it alone recovers the dropped webhooks."""


@dataclass(frozen=True)
class Options:
    seed: int
    payments: int
    postgres_url: str
    amqp_url: str
    workdir: Path
    broker_restarts: bool = False
    replicas: int = 2


@dataclass
class Report:
    plan: Plan
    outcomes: Counter[str] = field(default_factory=Counter)
    flows_done: Counter[str] = field(default_factory=Counter)
    flow_errors: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    faults_skipped: Counter[str] = field(default_factory=Counter)
    fault_errors: list[str] = field(default_factory=list)
    drive_seconds: float = 0.0
    quiescence_seconds: float | None = None
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and self.quiescence_seconds is not None

    def write(self, out: TextIO) -> None:
        out.write(f"\nflows completed: {dict(sorted(self.flows_done.items()))}\n")
        out.write(f"payments by outcome: {dict(sorted(self.outcomes.items()))}\n")
        out.write(f"faults injected by kind: {dict(sorted(self.faults.items()))}\n")
        if self.faults_skipped:
            out.write(f"faults skipped (nothing to act on): {dict(self.faults_skipped)}\n")
        for error in self.fault_errors:
            out.write(f"fault error: {error}\n")
        for error in self.flow_errors:
            out.write(f"flow error: {error}\n")
        out.write(f"drive: {self.drive_seconds:.1f} s\n")
        quiet = self.quiescence_seconds
        out.write(
            f"time to quiescence: {quiet:.1f} s\n"
            if quiet is not None
            else f"no quiescence within {QUIESCENCE_TIMEOUT:.0f} s\n"
        )
        out.write(f"violations: {len(self.violations)}\n")
        for violation in self.violations:
            out.write(f"  {violation}\n")


def payment_outcomes(state: State) -> Counter[str]:
    return Counter(str(payment["status"]) for payment in state.payments)


async def execute(options: Options, out: TextIO) -> Report:
    tag = uuid.uuid4().hex[:8]
    server = make_url(options.postgres_url).set(drivername="postgresql")
    server_dsn = server.render_as_string(hide_password=False)
    await check_servers(server_dsn, options.amqp_url)
    amqp = URL(options.amqp_url)
    pg = make_url(options.postgres_url)
    broker_proxy = TcpProxy(amqp.host or "127.0.0.1", amqp.port or 5672)
    database_proxy = TcpProxy(pg.host or "127.0.0.1", pg.port or 5432)
    await broker_proxy.start()
    await database_proxy.start()
    connection_name = f"chaos-{tag}"
    through_broker = str(
        URL(broker_proxy.url_for(options.amqp_url)).update_query(name=connection_name)
    )
    through_database = database_proxy.url_for(server_dsn)
    names = Names(f"chaos-{tag}.")
    config = with_free_ports(
        SystemConfig(
            postgres_url=through_database,
            amqp_url=through_broker,
            namespace=names.namespace,
            jwt_secret=f"chaos-jwt-secret-{uuid.uuid4().hex}",
            webhook_secret=f"whsec_chaos_{uuid.uuid4().hex}",
            workdir=options.workdir,
            database_prefix=f"chaos_{tag}_",
            replicas=options.replicas,
            stripe_route_limit=BUSY_USER_ROUTE_LIMIT,
            extra_env={
                "payments": {"RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL_SECONDS)},
                "emulator": {"STRIPE_EMULATOR_ASYNC_SETTLEMENT_DELAY": "never"},
            },
        )
    )
    system = System(config)
    replicas = [system.process_name(s, r) for s in SERVICES for r in range(options.replicas)]
    the_plan = plan(options.seed, options.payments, replicas, SERVICES, options.broker_restarts)
    out.write(f"chaos seed {options.seed}: {options.payments} payments, run {tag}\n")
    out.write(f"flows: {dict(sorted(Counter(the_plan.flows).items()))}\n")
    out.write("fault schedule:\n" + "".join(f"  {fault}\n" for fault in the_plan.faults))
    out.flush()
    report = Report(the_plan)
    await system.create_databases()
    try:
        await system.migrate()
        await system.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            emulator = EmulatorControl(system.url("emulator"), http)
            injector = Injector(
                system,
                broker_proxy,
                database_proxy,
                emulator,
                server_dsn,
                connection_name,
                options.seed,
            )
            await drive(system, http, emulator, injector, the_plan, options.seed, report)
            report.faults, report.faults_skipped = injector.injected, injector.skipped
            report.fault_errors = injector.errors
            broker_proxy.resume()
            database_proxy.resume()

            async def state() -> State:
                return await read_state(
                    http,
                    system.url("emulator"),
                    config.stripe_secret_key,
                    server_dsn,
                    config.database_prefix,
                    options.amqp_url,
                    names,
                )

            report.quiescence_seconds = await quiescence(state)
            final = await state()
            report.outcomes = payment_outcomes(final)
            report.violations = check(final)
        report.write(out)
    finally:
        await system.stop()
        broker_proxy.resume()
        database_proxy.resume()
        await system.drop_databases()
        await broker_proxy.stop()
        await database_proxy.stop()
        await delete_namespace(options.amqp_url, names)
    return report


async def drive(
    system: System,
    http: aiohttp.ClientSession,
    emulator: EmulatorControl,
    injector: Injector,
    the_plan: Plan,
    seed: int,
    report: Report,
) -> None:
    """The flows, `CONCURRENCY` at a time, while the faults run."""
    started = time.monotonic()
    stop = asyncio.Event()
    faults = asyncio.create_task(injector.run(the_plan.faults, stop))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, name: str) -> None:
        driver = Driver(http, system, emulator, random.Random(seed * 1_000_003 + index))
        async with gate:
            try:
                await FLOW_STEPS[name](driver, driver.parties())
                report.flows_done[name] += 1
            except (FlowError, AssertionError) as error:
                report.flow_errors.append(f"#{index} {name}: {error}")

    try:
        await asyncio.gather(*(one(i, name) for i, name in enumerate(the_plan.flows)))
    except BaseException:
        stop.set()
        raise
    finally:
        await faults  # the whole schedule runs, however soon the flows are done
        report.drive_seconds = time.monotonic() - started


async def quiescence(state: Callable[[], Awaitable[State]]) -> float | None:
    """Seconds until nothing is in flight (outboxes sent, queues empty) and the tables stay
    the same across three reads a second apart; None past `QUIESCENCE_TIMEOUT`."""
    started = time.monotonic()
    previous: object = None
    same = 0
    while time.monotonic() - started < QUIESCENCE_TIMEOUT:
        try:
            current = await state()
        except Exception as error:  # a replica or the broker still coming back
            log.info("not quiet yet: %r", error)
            await asyncio.sleep(1)
            continue
        settled = not any(
            row["sent_at"] is None for rows in current.outboxes.values() for row in rows
        ) and not any(count for queue, count in current.queues.items() if not is_kept(queue))
        if not settled:
            log.warning("not quiet yet: %s", _in_flight(current))
        digest = _digest(current)
        same = same + 1 if settled and digest == previous else 0
        if same >= 2:
            return time.monotonic() - started
        previous = digest
        await asyncio.sleep(1)
    return None


def _in_flight(state: State) -> str:
    unsent = [
        f"{service}:{row['event_type']}"
        for service, rows in state.outboxes.items()
        for row in rows
        if row["sent_at"] is None
    ]
    waiting = {queue: count for queue, count in state.queues.items() if count}
    return f"unsent {unsent[:5]} ({len(unsent)}), waiting {waiting}"


def _digest(state: State) -> object:
    return (
        sorted(
            (str(p["id"]), p["status"], p["amount_refunded"], p["dispute_outcome"])
            for p in state.payments
        ),
        sorted((str(c["id"]), c["status"], c["payment_status"]) for c in state.contracts),
        sorted((str(s["id"]), s["status"]) for s in state.sessions),
        len(state.notifications),
        sum(len(rows) for rows in state.inboxes.values()),
    )


async def delete_namespace(amqp_url: str, names: Names) -> None:
    try:
        async with await broker.connect(amqp_url) as connection:
            await delete_topology(await connection.channel(), names)
    except Exception as error:
        log.warning("could not delete the run's queues: %r", error)
