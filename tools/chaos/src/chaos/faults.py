"""Injecting the planned faults into this run only: its replicas, its broker connections (by
the connection name the run gives them), its databases' backends, its proxies, its emulator.
The shared broker is stopped only when the run was asked to (`--broker-restarts`)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from chaos.schedule import BROKER_RESTART, Fault
from skileez_events.testing import TcpProxy
from skileez_system.system import System
from stripe_emulator.testing import EmulatorControl

log = logging.getLogger("chaos.faults")


async def rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {output.decode(errors='replace')}")
    return output.decode(errors="replace")


@dataclass
class Injector:
    system: System
    broker_proxy: TcpProxy
    database_proxy: TcpProxy
    emulator: EmulatorControl
    server_dsn: str
    connection_name: str
    """The `name` every broker connection of this run carries (its AMQP URL's `?name=`)."""
    seed: int
    injected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _down: set[str] = field(default_factory=set)

    async def run(self, faults: list[Fault], stop: asyncio.Event) -> None:
        """Each fault at its moment (each undone by its own task) until `stop` is set."""
        started = time.monotonic()
        undoing: list[asyncio.Task[None]] = []
        for fault in faults:
            delay = fault.at - (time.monotonic() - started)
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            elif stop.is_set():
                break
            undoing.append(asyncio.create_task(self._inject(fault)))
        await asyncio.gather(*undoing)

    async def _inject(self, fault: Fault) -> None:
        try:
            done = await getattr(self, fault.kind)(fault)
        except Exception as error:
            self.errors.append(f"{fault}: {error!r}")
            log.warning("fault %s failed: %r", fault, error)
            return
        (self.injected if done is not False else self.skipped)[fault.kind] += 1

    # -- replicas ------------------------------------------------------------------------

    async def sigkill(self, fault: Fault) -> bool:
        return await self._stop_and_restart(fault, kill=True)

    async def sigterm(self, fault: Fault) -> bool:
        return await self._stop_and_restart(fault, kill=False)

    async def _stop_and_restart(self, fault: Fault, kill: bool) -> bool:
        name = fault.target
        if name in self._down:
            return False
        self._down.add(name)
        try:
            process = self.system.processes[name]
            await (process.kill() if kill else process.stop())
            await asyncio.sleep(fault.lasts)
            for attempt in range(5):  # a restart during a black hole may not get ready
                try:
                    await self.system.restart(name, timeout=90)
                    break
                except (RuntimeError, TimeoutError) as error:
                    log.warning("restart of %s, attempt %d: %r", name, attempt + 1, error)
                    await process.kill()
            else:
                raise RuntimeError(f"{name} did not come back")
        finally:
            self._down.discard(name)
        return True

    # -- broker --------------------------------------------------------------------------

    async def broker_connections_closed(self, fault: Fault) -> bool:
        """Close every broker connection of this run (and no one else's)."""
        if shutil.which("rabbitmqctl") is None:
            return False
        listed = await rabbitmqctl("list_connections", "pid", "client_properties")
        pattern = re.compile(
            r'^(<[^>]+>)\s.*\{"connection_name","' + re.escape(self.connection_name) + r'"\}'
        )
        pids = [m.group(1) for line in listed.splitlines() if (m := pattern.match(line))]
        for pid in pids:
            await rabbitmqctl("close_connection", pid, "chaos: connection cut")
        return bool(pids)

    async def broker_restart(self, fault: Fault) -> bool:
        assert fault.kind == BROKER_RESTART
        await rabbitmqctl("stop_app")
        try:
            await asyncio.sleep(fault.lasts)
        finally:
            await rabbitmqctl("start_app")
        return True

    async def black_hole_broker(self, fault: Fault) -> bool:
        return await self._stall(self.broker_proxy, fault.lasts)

    # -- database ------------------------------------------------------------------------

    async def database_backends_terminated(self, fault: Fault) -> bool:
        database = f"{self.system.config.database_prefix}{fault.target}"
        admin = await asyncpg.connect(self.server_dsn, timeout=10)
        try:
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        return True

    async def database_refused(self, fault: Fault) -> bool:
        """Every service's database refused (connections reset, new ones refused) a while."""
        await self.database_proxy.cut()
        try:
            await asyncio.sleep(fault.lasts)
        finally:
            await self.database_proxy.start()
        return True

    async def black_hole_database(self, fault: Fault) -> bool:
        return await self._stall(self.database_proxy, fault.lasts)

    @staticmethod
    async def _stall(proxy: TcpProxy, seconds: float) -> bool:
        proxy.stall()
        try:
            await asyncio.sleep(seconds)
        finally:
            proxy.resume()
        return True

    # -- emulator ------------------------------------------------------------------------

    async def webhook_chaos(self, fault: Fault) -> bool:
        """Duplicated, delayed and reordered webhooks for a while."""
        await self.emulator.set_chaos(
            0.5, 1.0, seed=random.Random(self.seed + int(fault.at)).randrange(1 << 30)
        )
        try:
            await asyncio.sleep(fault.lasts)
        finally:
            await self.emulator.set_normal_delivery()
        return True

    async def webhooks_dropped(self, fault: Fault) -> bool:
        """The next few deliveries lost: only payments' reconciliation recovers them."""
        await self.emulator.drop_next_deliveries(max(1, int(fault.lasts)))
        return True
