"""The emulator's state and the one place events are emitted from."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from stripe_emulator.clock import Clock
from stripe_emulator.objects import build_event
from stripe_emulator.settings import Settings, WebhookTarget
from stripe_emulator.store import Store
from stripe_emulator.webhooks import WebhookDispatcher
from stripe_emulator.wire import REQUEST_ID, JsonObject, dumps

log = logging.getLogger("stripe_emulator.events")

DAY = 86_400


@dataclass(frozen=True)
class RequestOrigin:
    """The API request that caused an event (`event.request`); None for page or clock."""

    request_id: str | None = None
    idempotency_key: str | None = None


class EmulatorState:
    """Store, clock, event log and webhook dispatcher of one emulator instance."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store()
        self.clock = Clock()
        self.dispatcher = WebhookDispatcher(settings, self._delivered)
        self._undelivered: dict[str, set[WebhookTarget]] = {}
        self.idempotency_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def reset(self) -> None:
        self.store.clear()
        self.clock.reset()
        self.dispatcher.reset()
        self._undelivered.clear()

    def now(self) -> int:
        return self.clock.now()

    def webhook_targets(self, event_type: str) -> list[WebhookTarget]:
        """Configured targets plus enabled WebhookEndpoints that listen for `event_type`."""
        return [target for target in self.all_webhook_targets() if target.wants(event_type)]

    def all_webhook_targets(self) -> list[WebhookTarget]:
        """Configured targets plus every enabled WebhookEndpoint."""
        targets = list(self.settings.webhooks)
        for endpoint in self.store.webhook_endpoints.values():
            if endpoint["status"] != "enabled":
                continue
            target = WebhookTarget(
                url=endpoint["url"],
                secret=self.store.webhook_secrets[endpoint["id"]],
                enabled_events=tuple(endpoint["enabled_events"]),
                endpoint_id=endpoint["id"],
            )
            targets.append(target)
        return targets

    def emit(
        self,
        event_type: str,
        obj: JsonObject,
        *,
        previous_attributes: JsonObject | None = None,
        origin: RequestOrigin | None = None,
    ) -> JsonObject:
        """Record an event (a snapshot of `obj`) and queue its webhook deliveries."""
        origin = origin or RequestOrigin()
        targets = self.webhook_targets(event_type)
        event = build_event(
            created=self.now(),
            event_type=event_type,
            data_object=obj,
            previous_attributes=previous_attributes,
            api_version=self.settings.api_version,
            request_id=origin.request_id,
            idempotency_key=origin.idempotency_key,
            pending_webhooks=len(targets),
        )
        self.store.events[event["id"]] = event
        self._undelivered[event["id"]] = set(targets)
        log.info("event %s %s for %s", event["id"], event_type, obj.get("id"))
        if targets:
            self.dispatcher.enqueue(event["id"], event_type, dumps(event).encode(), targets)
        return event

    def _delivered(self, event_id: str, target: WebhookTarget) -> None:
        waiting = self._undelivered.get(event_id)
        event = self.store.events.get(event_id)
        if waiting is None or event is None or target not in waiting:
            return
        waiting.discard(target)
        event["pending_webhooks"] = len(waiting)

    def prune(self) -> None:
        """Drop events older than the retention period and idempotency keys older than 24 h."""
        now = self.now()
        horizon = now - self.settings.event_retention_days * DAY
        for event_id in [e["id"] for e in self.store.events.values() if e["created"] < horizon]:
            del self.store.events[event_id]
            self._undelivered.pop(event_id, None)
        expired_keys = [k for k, v in self.store.idempotency.items() if v.created < now - DAY]
        for key in expired_keys:
            del self.store.idempotency[key]


STATE: web.AppKey[EmulatorState] = web.AppKey("state", EmulatorState)


def state_of(request: web.Request) -> EmulatorState:
    return request.app[STATE]


def origin_of(request: web.Request) -> RequestOrigin:
    """The request id and idempotency key that events caused by `request` carry."""
    return RequestOrigin(
        request_id=request.get(REQUEST_ID),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
