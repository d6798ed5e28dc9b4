"""The load generator: runs in a process of its own and reports its own CPU use.

A saturated client would look like a slow server, so every run returns the CPU seconds the
generator itself spent beside its wall time: near 1.0 CPU-second per second means the client,
not the server, set the pace.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import resource
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stripe_secret: bytes | None = None
    """Sign the body as Stripe does, just before the timed window opens."""


@dataclass(frozen=True)
class LoadSpec:
    requests: list[Request]
    concurrency: int = 64
    """Closed loop: this many requests in flight. Ignored when `rate` is set."""
    rate: float | None = None
    """Open loop: request i is sent at start + i / rate, whatever the answers."""


@dataclass
class LoadResult:
    sent_at: list[float]
    """Wall clock (time.time()) when each request was sent, in request order."""
    answered_at: list[float]
    latency: list[float]
    status: list[int]
    wall_seconds: float
    cpu_seconds: float

    @property
    def cpu_share(self) -> float:
        """CPU-seconds the generator used per wall second (1.0 = one core saturated)."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def stripe_signature(secret: bytes, payload: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return f"t={timestamp},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"


def run(spec: LoadSpec) -> LoadResult:
    """Entry point in the generator's own process."""
    import uvloop

    return uvloop.run(_run(spec))


def _signed(requests: list[Request]) -> list[Request]:
    now = int(time.time())
    return [
        Request(
            r.method,
            r.url,
            {**r.headers, "Stripe-Signature": stripe_signature(r.stripe_secret, r.body, now)},
            r.body,
        )
        if r.stripe_secret is not None and r.body is not None
        else r
        for r in requests
    ]


async def _run(spec: LoadSpec) -> LoadResult:
    requests = _signed(spec.requests)
    count = len(requests)
    sent_at = [0.0] * count
    answered_at = [0.0] * count
    latency = [0.0] * count
    status = [0] * count
    limit = spec.concurrency if spec.rate is None else 1024
    connector = aiohttp.TCPConnector(limit=limit, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def send(index: int) -> None:
            request = requests[index]
            sent_at[index] = time.time()
            started = time.perf_counter()
            try:
                async with http.request(
                    request.method, request.url, headers=request.headers, data=request.body
                ) as response:
                    await response.read()
                    status[index] = response.status
            except (aiohttp.ClientError, TimeoutError):
                status[index] = -1
            latency[index] = time.perf_counter() - started
            answered_at[index] = time.time()

        cpu_before = _cpu()
        wall_before = time.perf_counter()
        if spec.rate is None:
            cursor = iter(range(count))

            async def worker() -> None:
                for index in cursor:
                    await send(index)

            await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, count))))
        else:
            tasks = []
            interval = 1.0 / spec.rate
            start = time.perf_counter()
            for index in range(count):
                delay = start + index * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(index)))
            await asyncio.gather(*tasks)
        wall = time.perf_counter() - wall_before
        cpu = _cpu() - cpu_before
    return LoadResult(sent_at, answered_at, latency, status, wall, cpu)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
