"""Webhook delivery: Stripe's signature, retries with compressed backoff, and chaos modes.

Deliveries run in background tasks fed by a due-time heap; the API call that emitted an
event only pushes onto the heap and never waits for a receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import hmac
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from hashlib import sha256

import aiohttp

from stripe_emulator.settings import Settings, WebhookTarget
from stripe_emulator.wire import JsonObject

log = logging.getLogger("stripe_emulator.webhooks")

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
MAX_ATTEMPT_RECORDS = 10_000


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value: `t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class DeliveryAttempt:
    """One POST (or a deliberate drop) of one event to one URL, as the control API lists it."""

    id: int
    event_id: str
    event_type: str
    url: str
    endpoint_id: str | None
    attempt: int
    outcome: str  # "delivered", "failed", "dropped" or "abandoned" (out of retries)
    status: int | None
    error: str | None
    at: float
    duplicate: bool

    def as_json(self) -> JsonObject:
        return asdict(self)


@dataclass
class ChaosMode:
    """Deliver some events twice and each after a random delay, so order is not kept."""

    duplicate_probability: float = 0.5
    max_delay: float = 0.5


@dataclass
class _Delivery:
    event_id: str
    event_type: str
    payload: bytes
    target: WebhookTarget
    duplicate: bool = False
    attempts: int = 0


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    delivery: _Delivery = field(compare=False)


DeliveredCallback = Callable[[str, WebhookTarget], None]


class WebhookDispatcher:
    """Queues signed deliveries and sends them from background tasks."""

    def __init__(self, settings: Settings, on_delivered: DeliveredCallback) -> None:
        self._settings = settings
        self._on_delivered = on_delivered
        self._heap: list[_Scheduled] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation = 0
        self._attempt_ids = 0
        self._semaphore = asyncio.Semaphore(settings.webhook_concurrency)
        self._random = random.Random()
        self.attempts: deque[DeliveryAttempt] = deque(maxlen=MAX_ATTEMPT_RECORDS)
        self.chaos: ChaosMode | None = None
        self.drop_remaining = 0

    def reset(self) -> None:
        """Forget queued and in-flight deliveries, the attempt log and the chaos settings."""
        self._generation += 1
        self._heap.clear()
        for task in self._tasks:
            task.cancel()
        self.attempts.clear()
        self.chaos = None
        self.drop_remaining = 0

    def set_chaos(self, chaos: ChaosMode | None, seed: int | None = None) -> None:
        self.chaos = chaos
        if seed is not None:
            self._random.seed(seed)

    def enqueue(
        self, event_id: str, event_type: str, payload: bytes, targets: list[WebhookTarget]
    ) -> None:
        """Schedule one delivery of `payload` to each target (or drop it, or duplicate it)."""
        now = asyncio.get_running_loop().time()
        for target in targets:
            if self.drop_remaining > 0:
                self.drop_remaining -= 1
                self._record(_Delivery(event_id, event_type, payload, target), "dropped")
                log.info("dropped %s %s for %s (drop mode)", event_type, event_id, target.url)
                continue
            copies = 1
            if self.chaos is not None and self._random.random() < self.chaos.duplicate_probability:
                copies = 2
            for copy_index in range(copies):
                delay = 0.0
                if self.chaos is not None:
                    delay = self._random.uniform(0, self.chaos.max_delay)
                delivery = _Delivery(
                    event_id, event_type, payload, target, duplicate=copy_index > 0
                )
                self._schedule(delivery, now + delay)

    def _schedule(self, delivery: _Delivery, due: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Scheduled(due, self._seq, delivery))
        self._wake.set()

    def _record(
        self,
        delivery: _Delivery,
        outcome: str,
        status: int | None = None,
        error: str | None = None,
    ) -> None:
        self._attempt_ids += 1
        self.attempts.append(
            DeliveryAttempt(
                id=self._attempt_ids,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                url=delivery.target.url,
                endpoint_id=delivery.target.endpoint_id,
                attempt=max(delivery.attempts, 1),
                outcome=outcome,
                status=status,
                error=error,
                at=time.time(),
                duplicate=delivery.duplicate,
            )
        )

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Send deliveries as they fall due, until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = loop.time()
                while self._heap and self._heap[0].due <= now:
                    scheduled = heapq.heappop(self._heap)
                    task = asyncio.create_task(
                        self._send(http, scheduled.delivery, self._generation)
                    )
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                timeout = self._heap[0].due - now if self._heap else None
                self._wake.clear()
                # `asyncio.timeout`, not `wait_for`: on 3.11 `wait_for` swallowed a cancellation
                # arriving as the wake-up completed, and the app's shutdown waited forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(
        self, http: aiohttp.ClientSession, delivery: _Delivery, generation: int
    ) -> None:
        async with self._semaphore:
            delivery.attempts += 1
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": sign(delivery.payload, delivery.target.secret, timestamp),
            }
            status: int | None = None
            error: str | None = None
            try:
                async with http.post(
                    delivery.target.url,
                    data=delivery.payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout),
                ) as response:
                    status = response.status
                    await response.read()
            except TimeoutError:
                error = f"timed out after {self._settings.webhook_timeout}s"
            except aiohttp.ClientError as exc:
                error = f"{type(exc).__name__}: {exc}"
        if generation != self._generation:
            return  # a reset happened while this was in flight
        if status is not None and 200 <= status < 300:
            self._record(delivery, "delivered", status)
            log.info(
                "delivered %s %s to %s (attempt %d, HTTP %d)",
                delivery.event_type,
                delivery.event_id,
                delivery.target.url,
                delivery.attempts,
                status,
            )
            self._on_delivered(delivery.event_id, delivery.target)
            return
        if delivery.attempts >= self._settings.webhook_max_attempts:
            self._record(delivery, "abandoned", status, error)
            log.warning(
                "gave up on %s %s to %s after %d attempts (last: %s)",
                delivery.event_type,
                delivery.event_id,
                delivery.target.url,
                delivery.attempts,
                error or f"HTTP {status}",
            )
            return
        self._record(delivery, "failed", status, error)
        delay = min(
            self._settings.webhook_retry_initial_delay * 2 ** (delivery.attempts - 1),
            self._settings.webhook_retry_max_delay,
        )
        log.info(
            "delivery of %s %s to %s failed (%s); retrying in %.2fs",
            delivery.event_type,
            delivery.event_id,
            delivery.target.url,
            error or f"HTTP {status}",
            delay,
        )
        self._schedule(delivery, asyncio.get_running_loop().time() + delay)
