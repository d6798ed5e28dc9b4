"""`python -m bench`: start the system as the e2e tests do, set up N contracts, measure.

Phases, each over its own contracts (a contract is paid once):
  ceilings   bare aiohttp JSON handler, asyncpg UPDATE+INSERT, aio-pika confirm / consume-ack,
             and the bare pipeline (bench.bare_pipeline: the same durable steps, no logic)
  saturation signed webhooks as fast as 64 connections go: ingestion rate, p50/p99, and the
             sustained activation rate (count / first webhook sent -> last contract visible)
  payments alone  the same with contracts and scheduling stopped (SIGSTOP), so one payments
             process has the machine (with PostgreSQL and RabbitMQ) to itself; then they are
             resumed and the rate at which they clear the backlog is measured
  rate 100/s and rate 500/s  open-loop webhooks at a fixed rate: activation p50/p95/p99
  read path  GET /contracts/{id} as the contract's student
Memory (RSS) of each service is sampled throughout; CPU of each service and of the load
generator is reported per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import platform
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from sqlalchemy.engine import make_url

from bench import bare_pipeline, ceilings, loadgen
from bench.observers import ActivationObserver, MemorySampler
from bench.population import PayableContract, completed_event, create_contracts
from bench.report import percentile, table, write
from skileez_events import broker
from skileez_events.testing import wait_until
from skileez_system.processes import ManagedProcess, ProcessSpec
from skileez_system.servers import CHECK_TIMEOUT, check_servers
from skileez_system.system import (
    BUSY_USER_ROUTE_LIMIT,
    SERVICES,
    System,
    SystemConfig,
    free_port,
    with_free_ports,
)

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789"  # noqa: S105 - a throwaway run
WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"  # noqa: S105 - a throwaway run


@dataclass
class Options:
    contracts: int = 5000
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    output: Path = ROOT / "bench" / "results" / "latest.json"
    concurrency: int = 64
    ceiling_seconds: float = 3.0
    ceiling_requests: int = 20000
    ceiling_messages: int = 20000
    ceiling_flows: int = 3000
    read_requests: int = 10000
    settle_seconds: float = 5.0
    profile: Path | None = None
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)


def parse(argv: list[str] | None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=defaults.contracts)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_DATABASE_URL", defaults.postgres_url),
        help="server URL whose user may create databases (default: $TEST_DATABASE_URL)",
    )
    parser.add_argument("--amqp-url", default=os.environ.get("TEST_AMQP_URL", defaults.amqp_url))
    parser.add_argument("--output", type=Path, default=defaults.output)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--ceiling-seconds", type=float, default=defaults.ceiling_seconds)
    parser.add_argument("--ceiling-requests", type=int, default=defaults.ceiling_requests)
    parser.add_argument("--ceiling-messages", type=int, default=defaults.ceiling_messages)
    parser.add_argument("--ceiling-flows", type=int, default=defaults.ceiling_flows)
    parser.add_argument("--read-requests", type=int, default=defaults.read_requests)
    parser.add_argument("--settle-seconds", type=float, default=defaults.settle_seconds)
    parser.add_argument(
        "--profile", type=Path, help="record py-spy flame graphs of each service here"
    )
    args = parser.parse_args(argv)
    return Options(**{k: v for k, v in vars(args).items()})


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    import uvloop

    results = uvloop.run(Bench(options).run())
    print(table(results))
    write(results, options.output)
    print(f"\nwritten to {options.output}")


def _stat_fields(text: str) -> list[str]:
    """The fields of a `/proc/<pid>/stat` line after the command's name: the state first."""
    return text.rsplit(")", 1)[1].split()


def _cpu_seconds_of(fields: list[str]) -> float:
    """User plus system CPU-seconds, from `_stat_fields`."""
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cpu_seconds(pid: int) -> float:
    return _cpu_seconds_of(_stat_fields(Path(f"/proc/{pid}/stat").read_text()))


def _stopped(pid: int) -> bool:
    """Whether the process is stopped (state T)."""
    return _stat_fields(Path(f"/proc/{pid}/stat").read_text())[0] == "T"


@dataclass(frozen=True)
class CpuReading:
    """CPU-seconds used so far by the bench's own process (the activation observer and the
    memory sampler run there), by each of `pids`, by the servers and by the whole machine."""

    at: float
    own: float
    pids: dict[str, float]
    servers: dict[str, float]
    machine: float

    @classmethod
    def now(cls, pids: dict[str, int]) -> CpuReading:
        return cls(
            time.perf_counter(),
            time.process_time(),
            {name: _cpu_seconds(pid) for name, pid in pids.items()},
            _servers_cpu(),
            _machine_cpu(),
        )

    def shares_since(self, before: CpuReading) -> dict[str, float]:
        """CPU-seconds per wall second of each, from `before` to this reading."""
        wall = self.at - before.at
        return {
            "bench (observer, memory sampler)": (self.own - before.own) / wall,
            **{name: (v - before.pids[name]) / wall for name, v in self.pids.items()},
            **{name: (v - before.servers[name]) / wall for name, v in self.servers.items()},
            "whole machine": (self.machine - before.machine) / wall,
        }


class Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self.system = System(
            with_free_ports(
                SystemConfig(
                    postgres_url=options.postgres_url,
                    amqp_url=options.amqp_url,
                    namespace=f"bench{tag}.",
                    jwt_secret=JWT_SECRET,
                    webhook_secret=WEBHOOK_SECRET,
                    workdir=ROOT / "test-output" / "bench" / stamp,
                    database_prefix=f"bench_{tag}_",
                    extra_env=options.extra_env,
                    stripe_route_limit=BUSY_USER_ROUTE_LIMIT,
                )
            )
        )
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.cpu: dict[str, dict[str, float]] = {}
        self.rows: list[dict[str, Any]] = []
        self.phases: dict[str, Any] = {}

    async def in_own_process(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)

    async def run(self) -> dict[str, Any]:
        system = self.system
        await check_servers(self._server_dsn(), self.options.amqp_url)
        await system.create_databases()
        try:
            await system.migrate()
            await system.start()
            return await self._measure()
        finally:
            await system.stop()
            await self._clean_up()
            self.pool.shutdown()

    async def _clean_up(self) -> None:
        await self.system.drop_databases()
        admin = await asyncpg.connect(self._server_dsn(), timeout=CHECK_TIMEOUT)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._ceiling_db}" WITH (FORCE)')
        finally:
            await admin.close()
        from skileez_events.topology import Names, delete_topology

        connection = await broker.connect(self.options.amqp_url)
        async with connection:
            await delete_topology(await connection.channel(), Names(f"bench{self.tag}."))

    def _server_dsn(self) -> str:
        url = make_url(self.options.postgres_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @property
    def _ceiling_db(self) -> str:
        return f"bench_{self.tag}_ceiling"

    # -- the run -----------------------------------------------------------------------------

    async def _measure(self) -> dict[str, Any]:
        options, system = self.options, self.system
        pids = {s: system.processes[s].pid for s in SERVICES}
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        memory = MemorySampler(self.pids)
        memory.start()
        machine = await self._machine()
        ceiling = await self._ceilings()
        rest = memory.now()

        log(f"creating {options.contracts} contracts through the API (not timed)")
        started = time.perf_counter()
        contracts = await create_contracts(system, options.contracts)
        setup_seconds = time.perf_counter() - started
        log(f"  {len(contracts)} contracts ready in {setup_seconds:.1f} s")
        await asyncio.sleep(1.0)  # let the setup's events settle
        rest = {name: max(rest[name], value) for name, value in memory.now().items()}

        fifth = max(1, round(len(contracts) * 0.2))
        at100_set, at500_set = contracts[:fifth], contracts[fifth : 2 * fifth]
        alone_set, saturation_set = contracts[2 * fifth : 3 * fifth], contracts[3 * fifth :]
        observer = ActivationObserver(self._dsn("scheduling"))
        await observer.start()
        memory.reset_peak()
        try:
            saturation = await self._webhooks("saturation", saturation_set, observer, None)
            alone = await self._payments_alone(alone_set, observer)
            at100 = await self._webhooks("rate 100/s", at100_set, observer, 100.0)
            at500 = await self._webhooks("rate 500/s", at500_set, observer, 500.0)
        finally:
            await observer.close()
        read = await self._read_path(contracts)
        peak = dict(memory.peak)
        log(f"waiting {options.settle_seconds} s for memory to settle")
        await asyncio.sleep(options.settle_seconds)
        after = memory.now()
        await memory.stop()

        flows_ceiling = min(
            ceiling["asyncpg_tx_per_s"] / 3,
            ceiling["publish_confirm_per_s"] / 2,
            ceiling["consume_ack_per_s"] / 2,
        )
        self.rows = [
            _row(
                "webhook ingestion",
                saturation["webhook_per_s"],
                "/s",
                ceiling["http_post_per_s"],
                "bare aiohttp POST, same client",
            ),
            _row(
                "webhook p50 (saturation)",
                saturation["webhook_p50_ms"],
                "ms",
                ceiling["http_post_p50_ms"],
                "bare aiohttp POST p50",
            ),
            _row(
                "webhook p99 (saturation)",
                saturation["webhook_p99_ms"],
                "ms",
                ceiling["http_post_p99_ms"],
                "bare aiohttp POST p99",
            ),
            _row(
                "webhook ingestion, payments alone",
                alone["webhook_per_s"],
                "/s",
                ceiling["http_post_per_s"],
                "bare aiohttp POST (contracts, scheduling stopped)",
            ),
            _row(
                "webhook p99, payments alone",
                alone["webhook_p99_ms"],
                "ms",
                ceiling["http_post_p99_ms"],
                "bare aiohttp POST p99",
            ),
            _row(
                "activation sustained at saturation",
                saturation["activations_per_s"],
                "/s",
                flows_ceiling,
                "min(asyncpg tx/3, confirm/2, consume/2)",
            ),
            _row(
                "activation clearing a backlog",
                alone["backlog_activations_per_s"],
                "/s",
                None,
                "contracts and scheduling only (no ceiling of this shape)",
            ),
            _row(
                "activation against the bare pipeline",
                saturation["activations_per_s"],
                "/s",
                ceiling["bare_pipeline_flows_per_s"],
                "same durable steps, unbatched, no logic",
            ),
            _row(
                "activation against it batched",
                saturation["activations_per_s"],
                "/s",
                ceiling["bare_pipeline_batched_flows_per_s"],
                "same durable steps, batched, no logic",
            ),
            *[
                _row(
                    f"activation {q} at {phase['offered']:.0f}/s offered",
                    phase[f"activation_{q}_ms"],
                    "ms",
                    None,
                    "goal p99 <= 50 ms at 100/s",
                )
                for phase in (at100, at500)
                for q in ("p50", "p95", "p99")
            ],
            _row(
                "activation achieved at 500/s offered",
                at500["activations_per_s"],
                "/s",
                500.0,
                "offered rate",
            ),
            _row(
                "read GET /contracts/{id}",
                read["per_s"],
                "/s",
                ceiling["http_get_per_s"],
                "bare aiohttp GET, same client",
            ),
            _row(
                "read p99", read["p99_ms"], "ms", ceiling["http_get_p99_ms"], "bare aiohttp GET p99"
            ),
            _row(
                "bare asyncpg UPDATE+INSERT", ceiling["asyncpg_tx_per_s"], "tx/s", None, "ceiling"
            ),
            _row(
                "bare aio-pika publish+confirm",
                ceiling["publish_confirm_per_s"],
                "msg/s",
                None,
                "ceiling",
            ),
            _row(
                "bare aio-pika consume+ack", ceiling["consume_ack_per_s"], "msg/s", None, "ceiling"
            ),
            _row(
                "bare pipeline (bench.bare_pipeline)",
                ceiling["bare_pipeline_flows_per_s"],
                "flows/s",
                None,
                "reference (services batch)",
            ),
            _row(
                "bare pipeline, batched",
                ceiling["bare_pipeline_batched_flows_per_s"],
                "flows/s",
                None,
                "ceiling",
            ),
        ]
        return {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "uv run python -m bench " + " ".join(sys.argv[1:]),
            "contracts": len(contracts),
            "setup_seconds": round(setup_seconds, 1),
            "machine": machine,
            "table": self.rows,
            "ceilings": ceiling,
            "phases": {
                "saturation": saturation,
                "payments_alone": alone,
                "rate_100": at100,
                "rate_500": at500,
                "read": read,
            },
            "memory": {
                name: {
                    "rest": rest[name],
                    "peak": peak[name],
                    "after": after[name],
                    "returned": after[name] <= rest[name] * 1.10,
                }
                for name in self.pids
            },
            "cpu": self.cpu,
            "activation_observer": {
                "method": "poll scheduling's contracts table for status='active', 2 ms pause",
                "polls": observer.polls,
                "mean_poll_ms": round(observer.mean_poll_ms, 2),
            },
        }

    async def _ceilings(self) -> dict[str, float]:
        options = self.options
        log("measuring the ceilings")
        port = free_port()
        bare = ManagedProcess(
            ProcessSpec(
                "bare-http",
                "bench.bare_http",
                (str(port),),
                {"PYTHONPATH": str(ROOT)},
                ready_url=f"http://127.0.0.1:{port}/json",
            ),
            self.system.config.workdir / "bare-http.log",
        )
        await bare.start()
        try:
            await bare.wait_ready()
            assert bare.pid is not None
            url = f"http://127.0.0.1:{port}/json"
            count = options.ceiling_requests
            get = await self._load(
                "ceiling GET", [loadgen.Request("GET", url)] * count, None, {"bare-http": bare.pid}
            )
            body = completed_event(PayableContract("c", "t", "p", "cs", 1, "eur"))
            post = await self._load(
                "ceiling POST",
                [loadgen.Request("POST", url, {"Content-Type": "application/json"}, body)] * count,
                None,
                {"bare-http": bare.pid},
            )
        finally:
            await bare.stop()
        admin = await asyncpg.connect(self._server_dsn(), timeout=CHECK_TIMEOUT)
        try:
            await admin.execute(f'CREATE DATABASE "{self._ceiling_db}"')
        finally:
            await admin.close()
        tx = await self.in_own_process(
            ceilings.asyncpg_transactions,
            self._dsn_of(self._ceiling_db),
            options.ceiling_seconds,
        )
        publish, consume = await self.in_own_process(
            ceilings.amqp_publish_and_consume,
            options.amqp_url,
            f"bench{self.tag}.",
            options.ceiling_messages,
        )
        flows = await self._bare_pipeline(body, batched=False)
        batched_flows = await self._bare_pipeline(body, batched=True)
        return {
            "http_get_per_s": _rate(get),
            "http_get_p99_ms": _ms(get.latency, 99),
            "http_post_per_s": _rate(post),
            "http_post_p50_ms": _ms(post.latency, 50),
            "http_post_p99_ms": _ms(post.latency, 99),
            "asyncpg_tx_per_s": tx,
            "publish_confirm_per_s": publish,
            "consume_ack_per_s": consume,
            "bare_pipeline_flows_per_s": flows,
            "bare_pipeline_batched_flows_per_s": batched_flows,
        }

    async def _bare_pipeline(self, body: bytes, *, batched: bool) -> float:
        """Flows per second through `bare_pipeline` driven at saturation by the load generator:
        from the first request sent to the poll that sees the last accepted flow done."""
        dsn = self._dsn_of(self._ceiling_db)
        # A name of its own per run: a quorum queue deleted a moment ago can refuse a consumer.
        prefix = f"bench{self.tag}.{'batched' if batched else 'unbatched'}."
        ports = {role: free_port() for role in bare_pipeline.STAGES}
        stages = {}
        for role, port in ports.items():
            stages[role] = ManagedProcess(
                ProcessSpec(
                    f"bare-{role}",
                    "bench.bare_pipeline",
                    (
                        role,
                        str(port),
                        dsn,
                        self.options.amqp_url,
                        prefix,
                        "batched" if batched else "unbatched",
                    ),
                    {"PYTHONPATH": str(ROOT)},
                    ready_url=f"http://127.0.0.1:{port}/ready",
                ),
                self.system.config.workdir / f"bare-{role}.log",
            )
        database = await asyncpg.connect(dsn, timeout=CHECK_TIMEOUT)
        try:
            await bare_pipeline.create_schema(database)
            await self._on_broker(bare_pipeline.declare_queues, prefix)
            for stage in stages.values():
                await stage.start()
            for stage in stages.values():
                await stage.wait_ready()
            count = self.options.ceiling_flows
            url = f"http://127.0.0.1:{ports['front']}/pay"
            request = loadgen.Request("POST", url, {"Content-Type": "application/json"}, body)
            pids = {f"bare-{role}": stage.pid for role, stage in stages.items() if stage.pid}
            phase = "ceiling pipeline, batched" if batched else "ceiling pipeline"
            result = await self._load(phase, [request] * count, None, pids)
            accepted = result.status.count(200)
            done = "SELECT count(*) >= $1 FROM bare_log WHERE stage = 3"
            await wait_until(lambda: database.fetchval(done, accepted), timeout=120, interval=0.01)
            # Taken when the poll sees the last flow done, as the activation observer does.
            return accepted / (time.time() - min(result.sent_at))
        finally:
            for stage in stages.values():
                await stage.stop()
            await database.close()
            await self._on_broker(bare_pipeline.delete_queues, prefix)

    async def _on_broker(
        self, work: Callable[[aio_pika.abc.AbstractChannel, str], Awaitable[object]], prefix: str
    ) -> None:
        connection = await broker.connect(self.options.amqp_url)
        async with connection:
            await work(await connection.channel(), prefix)

    async def _load(
        self,
        phase: str,
        requests: list[loadgen.Request],
        rate: float | None,
        pids: dict[str, int] | None = None,
    ) -> loadgen.LoadResult:
        """Run the load generator in its own process; record the CPU shares of it, of the
        bench's own process (the activation observer and the memory sampler run there), of the
        pids and of the servers."""
        pids = self.pids if pids is None else pids
        spec = loadgen.LoadSpec(requests, concurrency=self.options.concurrency, rate=rate)
        profilers = await self._start_profilers(phase, pids)
        before = CpuReading.now(pids)
        result: loadgen.LoadResult = await self.in_own_process(loadgen.run, spec)
        shares = CpuReading.now(pids).shares_since(before)
        await self._stop_profilers(profilers)
        self.cpu[phase] = {"load generator": result.cpu_share, **shares}
        failures = sum(1 for status in result.status if status != 200)
        if failures:
            log(f"  {phase}: {failures} of {len(requests)} requests not answered 200")
        return result

    async def _start_profilers(
        self, phase: str, pids: dict[str, int]
    ) -> list[asyncio.subprocess.Process]:
        """py-spy on each service for the phase (`--profile`): collapsed stacks + flame graph."""
        folder = self.options.profile
        if folder is None:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        slug = phase.replace(" ", "-").replace("/", "")
        started = []
        for name, pid in pids.items():
            if _stopped(pid):
                continue
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                started.append(
                    await asyncio.create_subprocess_exec(
                        "py-spy",
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        "250",
                        "--format",
                        fmt,
                        "--output",
                        str(folder / f"{slug}-{name}.{suffix}"),
                        "--nonblocking",
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                )
        await asyncio.sleep(0.5)  # attached before the load starts
        return started

    async def _stop_profilers(self, profilers: list[asyncio.subprocess.Process]) -> None:
        for process in profilers:
            process.send_signal(signal.SIGINT)
        for process in profilers:
            await process.wait()

    async def _webhooks(
        self,
        phase: str,
        contracts: list[PayableContract],
        observer: ActivationObserver,
        rate: float | None,
    ) -> dict[str, Any]:
        log(f"{phase}: {len(contracts)} signed checkout.session.completed")
        ids = [c.contract_id for c in contracts]
        watch = asyncio.create_task(observer.watch(ids))
        result = await self._load(phase, self._signed_webhooks(contracts), rate)
        await watch
        seen = [observer.seen_at.get(i) for i in ids]
        latencies = [
            s - answered
            for s, answered, status in zip(seen, result.answered_at, result.status, strict=True)
            if s is not None and status == 200
        ]
        visible = [s for s in seen if s is not None]
        window = (max(visible) - min(result.sent_at)) if visible else math_nan()
        outcome = {
            "contracts": len(contracts),
            "offered": rate,
            **_ingestion(result),
            "activated": len(visible),
            "activations_per_s": len(visible) / window if visible else 0.0,
            "activation_p50_ms": _ms(latencies, 50),
            "activation_p95_ms": _ms(latencies, 95),
            "activation_p99_ms": _ms(latencies, 99),
            "activation_max_ms": 1000 * max(latencies) if latencies else None,
        }
        log(
            f"  webhooks {outcome['webhook_per_s']:.0f}/s, activated {len(visible)}, "
            f"{outcome['activations_per_s']:.0f}/s, p99 {outcome['activation_p99_ms']:.1f} ms"
        )
        return outcome

    async def _payments_alone(
        self, contracts: list[PayableContract], observer: ActivationObserver
    ) -> dict[str, Any]:
        """Webhooks at saturation with contracts and scheduling stopped (SIGSTOP): one
        payments process, PostgreSQL and RabbitMQ have the machine (PaymentSucceeded waits in
        contracts' queue). Then both resume and the rate at which they clear that backlog is
        taken, from the resume to the last contract visible in scheduling, with the CPU it
        took. Stopped processes are not profiled (`--profile`); the backlog is."""
        phase = "payments alone"
        log(f"{phase}: {len(contracts)} signed checkout.session.completed")
        stopped = [self.pids[name] for name in ("contracts", "scheduling")]
        try:
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            await wait_until(lambda: all(_stopped(pid) for pid in stopped), interval=0.001)
            result = await self._load(phase, self._signed_webhooks(contracts), None)
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        backlog = "backlog after payments alone"
        resumed, before = time.time(), CpuReading.now(self.pids)
        profilers = await self._start_profilers(backlog, self.pids)
        ids = [c.contract_id for c in contracts]
        await observer.watch(ids)
        self.cpu[backlog] = CpuReading.now(self.pids).shares_since(before)
        await self._stop_profilers(profilers)
        visible = [observer.seen_at[i] for i in ids if i in observer.seen_at]
        outcome = {
            "contracts": len(contracts),
            **_ingestion(result),
            "activated": len(visible),
            "backlog_activations_per_s": (
                len(visible) / (max(visible) - resumed) if visible else 0.0
            ),
        }
        log(
            f"  webhooks {outcome['webhook_per_s']:.0f}/s; after the resume activated "
            f"{len(visible)}, {outcome['backlog_activations_per_s']:.0f}/s"
        )
        return outcome

    def _signed_webhooks(self, contracts: list[PayableContract]) -> list[loadgen.Request]:
        url, secret = self.system.webhook_url, WEBHOOK_SECRET.encode()
        headers = {"Content-Type": "application/json"}
        return [
            loadgen.Request("POST", url, headers, completed_event(c), secret) for c in contracts
        ]

    async def _read_path(self, contracts: list[PayableContract]) -> dict[str, Any]:
        count = self.options.read_requests
        log(f"read path: {count} GET /contracts/{{id}}")
        base = self.system.url("contracts")
        requests = [
            loadgen.Request(
                "GET",
                f"{base}/contracts/{c.contract_id}",
                {"Authorization": f"Bearer {c.student_token}", "Accept": "application/json"},
            )
            for c in (contracts[i % len(contracts)] for i in range(count))
        ]
        result = await self._load("read path", requests, None)
        return {
            "requests": count,
            "ok": sum(1 for s in result.status if s == 200),
            "per_s": _rate(result),
            "p50_ms": _ms(result.latency, 50),
            "p99_ms": _ms(result.latency, 99),
        }

    # -- where and what ----------------------------------------------------------------------

    def _dsn_of(self, database: str) -> str:
        url = make_url(self.options.postgres_url).set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)

    def _dsn(self, service: str) -> str:
        return self._dsn_of(f"{self.system.config.database_prefix}{service}")

    async def _machine(self) -> dict[str, Any]:
        admin = await asyncpg.connect(self._server_dsn(), timeout=CHECK_TIMEOUT)
        try:
            postgres = (await admin.fetchval("SHOW server_version")).split()[0]
        finally:
            await admin.close()
        connection = await broker.connect(self.options.amqp_url)
        async with connection:
            assert connection.transport is not None
            properties = connection.transport.connection.server_properties
            rabbitmq = properties.get("version", "?")
        rabbitmq = rabbitmq.decode() if isinstance(rabbitmq, bytes) else str(rabbitmq)
        meminfo = _read("/proc/meminfo").split("\n")[0].split()
        return {
            "cores": os.cpu_count(),
            "memory_gib": round(int(meminfo[1]) / 1024 / 1024, 1),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "postgresql": postgres,
            "rabbitmq": rabbitmq,
        }


SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq"}


def _servers_cpu() -> dict[str, float]:
    """CPU-seconds used so far by all PostgreSQL and RabbitMQ processes."""
    totals = dict.fromkeys(SERVERS.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name in SERVERS:
            totals[SERVERS[name]] += _cpu_seconds_of(_stat_fields(text))
    return totals


def _machine_cpu() -> float:
    """CPU-seconds all cores spent busy so far (/proc/stat, idle and iowait excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICKS


_TICKS = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str:
    return Path(path).read_text()


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _row(
    figure: str, value: float | None, unit: str, ceiling: float | None, ceiling_is: str
) -> dict[str, Any]:
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "ceiling": ceiling,
        "ceiling_is": ceiling_is,
    }


def _rate(result: loadgen.LoadResult) -> float:
    ok = sum(1 for status in result.status if status == 200)
    return ok / result.wall_seconds if result.wall_seconds else 0.0


def _ingestion(result: loadgen.LoadResult) -> dict[str, float | int]:
    """A webhook phase's ingestion figures: rate, answers 200, p50 and p99."""
    return {
        "webhook_per_s": _rate(result),
        "webhook_ok": sum(1 for status in result.status if status == 200),
        "webhook_p50_ms": _ms(result.latency, 50),
        "webhook_p99_ms": _ms(result.latency, 99),
    }


def _ms(values: list[float], p: float) -> float:
    return 1000 * percentile(values, p)


def math_nan() -> float:
    return float("nan")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
