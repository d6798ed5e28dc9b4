"""The other services as the operator actions need them: what they answered, or which one could
not be reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ServiceUnavailable(Exception):
    def __init__(self, service: str, why: str) -> None:
        super().__init__(f"{service} cannot be reached: {why}")
        self.service = service
        self.why = why


@dataclass(frozen=True)
class Answer:
    """What a service answered: its status and its JSON body (a problem's, when refused)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """The answer in a line, for the audit log and the page."""
        if isinstance(self.body, dict) and not self.ok:
            return f"{self.status} {self.body.get('code', '')}: {self.body.get('detail', '')}"
        return str(self.status)


class Services(Protocol):
    async def review(self, payment_id: str, decision: str, note: str, token: str) -> Answer: ...

    async def refund(
        self,
        payment_id: str,
        amount: int | None,
        reason: str | None,
        idempotency_key: str,
        token: str,
    ) -> Answer: ...

    async def dead_letters(self, service: str, token: str) -> Answer: ...

    async def replay_dead_letter(self, service: str, message_id: str, token: str) -> Answer: ...
