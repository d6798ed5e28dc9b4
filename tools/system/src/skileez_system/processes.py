"""Real processes, started, awaited ready, and stopped by the PID we started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import aiohttp


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one process: `python -m <module> <args>` with `env`, ready at `ready_url`."""

    name: str
    module: str
    args: tuple[str, ...]
    env: dict[str, str]
    ready_url: str | None = None


@dataclass
class ManagedProcess:
    spec: ProcessSpec
    log_path: Path
    echo: TextIO | None = None
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    _pump: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        env = {**os.environ, **self.spec.env, "PYTHONUNBUFFERED": "1"}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.spec.module,
            *self.spec.args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop each child
        )
        self._pump = asyncio.create_task(self._copy_output(self.process))

    async def _copy_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        with self.log_path.open("ab") as log:
            while line := await process.stdout.readline():
                log.write(line)
                log.flush()
                if self.echo is not None:
                    self.echo.write(f"{self.spec.name:>12} | {line.decode(errors='replace')}")
                    self.echo.flush()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll the readiness URL until it answers 200; fail with the log tail otherwise."""
        if self.spec.ready_url is None:
            return
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.spec.name} exited:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.spec.ready_url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} not ready in {timeout} s:\n{self.log_tail()}")

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful shutdown), then SIGKILL if it has not exited in `timeout` s."""
        return await self._signal(signal.SIGTERM, timeout)

    async def kill(self) -> int | None:
        return await self._signal(signal.SIGKILL, 10.0)

    async def _signal(self, sig: signal.Signals, timeout: float) -> int | None:
        process = self.process
        if process is None or process.returncode is not None:
            return process.returncode if process else None
        process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._pump is not None:
            await self._pump
        return process.returncode

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
