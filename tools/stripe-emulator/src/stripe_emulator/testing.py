"""Helpers for test suites: run the emulator and a webhook receiver in-process, drive the
control API, and wait for things by polling with a deadline.

    async with running_webhook_receiver("whsec_test") as receiver:
        async with running_emulator(webhooks=[(receiver.url, "whsec_test")]) as base_url:
            client = stripe.StripeClient("sk_test_x", base_addresses={"api": base_url})
            control = EmulatorControl(base_url)
            ...
            await receiver.wait_for_event("checkout.session.completed")
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import stripe
from aiohttp import web

from stripe_emulator.app import create_app
from stripe_emulator.settings import Settings, WebhookTarget
from stripe_emulator.wire import JsonObject

T = TypeVar("T")

# Fast retries and no self-settling delayed payments: tests decide when things happen.
TEST_SETTINGS = Settings(
    host="127.0.0.1",
    port=0,
    webhook_timeout=2.0,
    webhook_retry_initial_delay=0.05,
    webhook_retry_max_delay=0.5,
    webhook_max_attempts=6,
    async_settlement_delay=None,
    sweep_interval=0.2,
)


async def wait_until(
    probe: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = probe()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@asynccontextmanager
async def running_emulator(
    webhooks: Iterable[tuple[str, str]] = (),
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> AsyncIterator[str]:
    """Run an emulator on a free loopback port; yields its base URL (`http://127.0.0.1:N`).

    `webhooks` are `(url, secret)` targets that receive every event; `overrides` replace
    fields of `settings` (default: TEST_SETTINGS, fast retries, manual settlement).
    """
    base = settings or TEST_SETTINGS
    targets = base.webhooks + tuple(WebhookTarget(url, secret) for url, secret in webhooks)
    app = create_app(dataclasses.replace(base, webhooks=targets, **overrides))
    runner, url = await _serve(app)
    try:
        yield url
    finally:
        await runner.cleanup()


class EmulatorRefusal(AssertionError):
    """The control API refused: `status` and Stripe's `error` body (`code`, `message`, ...)."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.error: JsonObject = body.get("error", {}) if isinstance(body, dict) else {}
        self.code: str | None = self.error.get("code")


class EmulatorControl:
    """A small async client for the emulator's `/_emulator/` control API."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def _call(self, method: str, path: str, body: JsonObject | None = None) -> Any:
        async with aiohttp.ClientSession() as own:
            http = self._session or own
            async with http.request(method, self.base_url + path, json=body) as response:
                data = await response.json()
                if response.status >= 400:
                    raise EmulatorRefusal(method, path, response.status, data)
                return data

    async def complete_session(
        self,
        session_id: str,
        outcome: str = "paid",
        *,
        async_outcome: str = "succeeded",
        email: str | None = None,
    ) -> JsonObject:
        """Pay without a browser: `paid`, `authenticated` (3-D Secure card), `declined` or
        `pending_async`."""
        body: JsonObject = {"outcome": outcome, "async_outcome": async_outcome}
        if email is not None:
            body["email"] = email
        result: JsonObject = await self._call(
            "POST", f"/_emulator/checkout/sessions/{session_id}/complete", body
        )
        return result

    async def change_card(self, customer_id: str, card: str) -> JsonObject:
        """Give the customer a new default card, as the billing portal would: `card_success`,
        `card_authentication` or `card_decline_after_attach` (saved, then declined)."""
        result: JsonObject = await self._call(
            "POST", f"/_emulator/customers/{customer_id}/card", {"card": card}
        )
        return result

    async def settle(self, session_id: str, outcome: str = "succeeded") -> JsonObject:
        result: JsonObject = await self._call(
            "POST", f"/_emulator/checkout/sessions/{session_id}/settle", {"outcome": outcome}
        )
        return result

    async def dispute(
        self, charge_id: str, reason: str = "fraudulent", amount: int | None = None
    ) -> JsonObject:
        body: JsonObject = {"reason": reason}
        if amount is not None:
            body["amount"] = amount
        result: JsonObject = await self._call(
            "POST", f"/_emulator/charges/{charge_id}/dispute", body
        )
        return result

    async def close_dispute(self, dispute_id: str, status: str) -> JsonObject:
        """The network decides the dispute: `won` or `lost`."""
        result: JsonObject = await self._call(
            "POST", f"/_emulator/disputes/{dispute_id}/close", {"status": status}
        )
        return result

    async def forget_session(self, session_id: str) -> None:
        """Make the emulator forget a session: Stripe answers `resource_missing` for it."""
        await self._call("DELETE", f"/_emulator/checkout/sessions/{session_id}")

    async def advance_clock(self, seconds: int) -> JsonObject:
        result: JsonObject = await self._call(
            "POST", "/_emulator/clock/advance", {"seconds": seconds}
        )
        return result

    async def reset(self) -> None:
        await self._call("POST", "/_emulator/reset")

    async def set_chaos(
        self, duplicate_probability: float = 0.5, max_delay: float = 0.5, seed: int | None = None
    ) -> JsonObject:
        body: JsonObject = {
            "mode": "chaos",
            "duplicate_probability": duplicate_probability,
            "max_delay": max_delay,
        }
        if seed is not None:
            body["seed"] = seed
        result: JsonObject = await self._call("POST", "/_emulator/webhooks/mode", body)
        return result

    async def set_normal_delivery(self) -> None:
        await self._call("POST", "/_emulator/webhooks/mode", {"mode": "normal"})

    async def drop_next_deliveries(self, count: int = 1) -> None:
        await self._call("POST", "/_emulator/webhooks/drop", {"count": count})

    async def deliveries(self, **filters: str) -> list[JsonObject]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        result = await self._call("GET", f"/_emulator/webhooks/deliveries?{query}")
        data: list[JsonObject] = result["data"]
        return data

    async def wait_for_delivery(self, timeout: float = 10.0, **filters: str) -> list[JsonObject]:
        """Wait until at least one attempt matches `filters` (e.g. outcome="delivered")."""

        async def probe() -> list[JsonObject]:
            return await self.deliveries(**filters)

        return await wait_until(probe, timeout=timeout, what=f"a delivery matching {filters}")


@dataclasses.dataclass
class ReceivedWebhook:
    """One POST the receiver got: raw body, signature header and the verified event (or None)."""

    body: bytes
    signature: str | None
    event: JsonObject | None
    status: int


class WebhookReceiver:
    """An aiohttp app that verifies Stripe signatures with `stripe.Webhook.construct_event`."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.url = ""
        self.received: list[ReceivedWebhook] = []
        self.fail_next = 0  # answer 500 to this many requests before accepting
        self.stall_next = 0  # hold this many requests for `stall_seconds` (a timeout)
        self.stall_seconds = 0.0

    @property
    def events(self) -> list[JsonObject]:
        """Verified events in arrival order, duplicates included."""
        return [r.event for r in self.received if r.event is not None and r.status == 200]

    def events_of_type(self, event_type: str) -> list[JsonObject]:
        return [e for e in self.events if e["type"] == event_type]

    async def wait_for_event(
        self,
        event_type: str,
        predicate: Callable[[JsonObject], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> JsonObject:
        def probe() -> JsonObject | None:
            matching = [e for e in self.events_of_type(event_type) if predicate(e)]
            return matching[0] if matching else None

        return await wait_until(probe, timeout=timeout, what=f"webhook {event_type}")

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get("Stripe-Signature")
        if self.stall_next > 0:
            self.stall_next -= 1
            self.received.append(ReceivedWebhook(body, signature, None, 504))
            await asyncio.sleep(self.stall_seconds)
            return web.Response(status=504, text="too late")
        if self.fail_next > 0:
            self.fail_next -= 1
            self.received.append(ReceivedWebhook(body, signature, None, 500))
            return web.Response(status=500, text="failing on purpose")
        try:
            stripe.Webhook.construct_event(body, signature, self.secret)
        except (stripe.SignatureVerificationError, ValueError):
            self.received.append(ReceivedWebhook(body, signature, None, 400))
            return web.Response(status=400, text="bad signature")
        event: JsonObject = json.loads(body)
        self.received.append(ReceivedWebhook(body, signature, event, 200))
        return web.json_response({"received": True})


@asynccontextmanager
async def running_webhook_receiver(
    secret: str, path: str = "/webhooks/stripe"
) -> AsyncIterator[WebhookReceiver]:
    """Run a WebhookReceiver on a free loopback port; its `url` is set once it listens."""
    receiver = WebhookReceiver(secret)
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner, base = await _serve(app)
    receiver.url = base + path
    try:
        yield receiver
    finally:
        await runner.cleanup()
