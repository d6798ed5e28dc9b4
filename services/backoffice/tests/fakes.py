"""In-memory fakes of the other services and of the audit log, for the operator actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skileez_backoffice.domain.audit import Action
from skileez_backoffice.service_layer.services import Answer, ServiceUnavailable


@dataclass
class FakeServices:
    """Answers each call with `answer`, or is down; remembers the calls and their tokens."""

    answer: Answer = field(default_factory=lambda: Answer(200, {}))
    down: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def _reply(self, service: str, *call: Any) -> Answer:
        self.calls.append(call)
        if self.down:
            raise ServiceUnavailable(service, "ClientConnectorError")
        return self.answer

    async def review(self, payment_id: str, decision: str, note: str, token: str) -> Answer:
        return self._reply("payments", "review", payment_id, decision, note, token)

    async def refund(
        self, payment_id: str, amount: int | None, reason: str | None, key: str, token: str
    ) -> Answer:
        return self._reply("payments", "refund", payment_id, amount, reason, key, token)

    async def dead_letters(self, service: str, token: str) -> Answer:
        return self._reply(service, "dead_letters", service, token)

    async def replay_dead_letter(self, service: str, message_id: str, token: str) -> Answer:
        return self._reply(service, "replay", service, message_id, token)


@dataclass
class FakeAuditLog:
    entries: list[Action] = field(default_factory=list)

    async def record(self, action: Action) -> int:
        self.entries.append(action)
        return len(self.entries)
