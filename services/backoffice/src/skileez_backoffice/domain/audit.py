"""An operator's action as the audit log keeps it: who, on what, why, and what came of it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionKind(StrEnum):
    REVIEW_APPROVE = "review_approve"
    REVIEW_REFUND = "review_refund"
    REFUND = "refund"
    DEAD_LETTER_REPLAY = "dead_letter_replay"


@dataclass(frozen=True)
class Action:
    actor_id: str
    actor_name: str | None
    kind: ActionKind
    subject: str
    """What it was done to: a payment id, or `service/message id` for a dead letter."""
    note: str
    """Why, in the operator's words (required)."""
    outcome: str
    succeeded: bool
