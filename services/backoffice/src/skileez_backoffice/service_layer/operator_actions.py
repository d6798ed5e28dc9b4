"""What an operator does through the console: each action is taken by the service that owns
the data, with the operator's own token, and recorded in the audit log whatever came of it (a
refusal, or the service being down, included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skileez_backoffice.domain.audit import Action, ActionKind
from skileez_backoffice.service_layer.services import Answer, Services, ServiceUnavailable

Record = Callable[[Action], Awaitable[int]]
"""Appends an action to the audit log, in a transaction of its own; gives its entry's id."""


@dataclass(frozen=True)
class Operator:
    user_id: str
    name: str | None
    token: str


@dataclass(frozen=True)
class Done:
    entry_id: int
    succeeded: bool
    outcome: str


async def _audited(
    operator: Operator,
    kind: ActionKind,
    subject: str,
    note: str,
    call: Awaitable[Answer],
    record: Record,
) -> Done:
    try:
        answer = await call
    except ServiceUnavailable as down:
        succeeded, outcome = False, str(down)
    else:
        succeeded, outcome = answer.ok, answer.outcome
    action = Action(operator.user_id, operator.name, kind, subject, note, outcome, succeeded)
    return Done(await record(action), succeeded, outcome)


async def review_held_payment(
    operator: Operator,
    payment_id: str,
    decision: str,
    note: str,
    services: Services,
    record: Record,
) -> Done:
    """Payments' review: approve (the payment pays its contract) or refund its whole charge."""
    kind = ActionKind.REVIEW_APPROVE if decision == "approve" else ActionKind.REVIEW_REFUND
    call = services.review(payment_id, decision, note, operator.token)
    return await _audited(operator, kind, payment_id, note, call, record)


async def refund_payment(
    operator: Operator,
    payment_id: str,
    amount: int | None,
    reason: str | None,
    note: str,
    idempotency_key: str,
    services: Services,
    record: Record,
) -> Done:
    """A refund through payments' API (all that is left when `amount` is None); the key makes
    a repeated click refund once."""
    call = services.refund(payment_id, amount, reason, idempotency_key, operator.token)
    return await _audited(operator, ActionKind.REFUND, payment_id, note, call, record)


async def replay_dead_letter(
    operator: Operator,
    service: str,
    message_id: str,
    note: str,
    services: Services,
    record: Record,
) -> Done:
    call = services.replay_dead_letter(service, message_id, operator.token)
    subject = f"{service}/{message_id}"
    return await _audited(operator, ActionKind.DEAD_LETTER_REPLAY, subject, note, call, record)
