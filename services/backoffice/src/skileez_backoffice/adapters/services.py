"""The other services' APIs, as the backoffice calls them for an operator: with the operator's
own token, so each service decides, and records, who acted. A service that cannot be reached
(no connection, a timeout, a 5xx) is `ServiceUnavailable` naming it, so a page can say which
one is down and show the rest. The backoffice's own dead letters are read in process."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from skileez_backoffice.service_layer.services import Answer, ServiceUnavailable
from skileez_events.deadletters import list_dead_letters, replay
from skileez_web.dead_letters import DeadLetterOut, DeadLetterSource
from skileez_web.negotiation import JSON

OWN = "backoffice"


class ServiceGateway:
    def __init__(
        self, http: aiohttp.ClientSession, apis: dict[str, str], own: DeadLetterSource
    ) -> None:
        self._http = http
        self._apis = apis
        self._own = own

    @property
    def services(self) -> list[str]:
        """Every service whose dead letters the console shows, the backoffice last."""
        return [*self._apis, OWN]

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One call (with the operator's token, when given)."""
        sent = {"Accept": JSON, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        try:
            async with self._http.request(
                method, f"{self._apis[service]}{path}", json=json, headers=sent
            ) as response:
                text = await response.text()
                if response.status >= 500:
                    raise ServiceUnavailable(service, f"it answered {response.status}")
                try:
                    body = await response.json(content_type=None) if text else None
                except ValueError:
                    body = text
                return Answer(response.status, body)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceUnavailable(service, type(error).__name__) from None

    async def ready(self, service: str) -> bool:
        try:
            return (await self.call(service, "GET", "/health/ready", None)).ok
        except ServiceUnavailable:
            return False

    async def review(self, payment_id: str, decision: str, note: str, token: str) -> Answer:
        return await self.call(
            "payments",
            "POST",
            f"/payments/{quote(payment_id)}/review",
            token,
            json={"decision": decision, "note": note},
        )

    async def refund(
        self,
        payment_id: str,
        amount: int | None,
        reason: str | None,
        idempotency_key: str,
        token: str,
    ) -> Answer:
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = amount
        if reason is not None:
            body["reason"] = reason
        return await self.call(
            "payments",
            "POST",
            f"/payments/{quote(payment_id)}/refunds",
            token,
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )

    async def dead_letters(self, service: str, token: str) -> Answer:
        if service == OWN:
            try:
                letters = await list_dead_letters(
                    self._own.amqp_url, self._own.names, self._own.consumer
                )
            except Exception as error:
                raise ServiceUnavailable("the broker", type(error).__name__) from None
            found = [DeadLetterOut.of(letter).model_dump(mode="json") for letter in letters]
            return Answer(200, {"dead_letters": found})
        return await self.call(service, "GET", "/admin/dead-letters", token)

    async def replay_dead_letter(self, service: str, message_id: str, token: str) -> Answer:
        if service == OWN:
            try:
                done = await replay(
                    self._own.amqp_url, self._own.names, message_id, self._own.consumer
                )
            except Exception as error:
                raise ServiceUnavailable("the broker", type(error).__name__) from None
            if not done:
                return Answer(404, {"code": "dead_letter_not_found", "detail": "No such letter."})
            return Answer(200, {"dead_letters": [DeadLetterOut.of(d).model_dump() for d in done]})
        return await self.call(
            service, "POST", f"/admin/dead-letters/{quote(message_id, safe='')}/replay", token
        )
