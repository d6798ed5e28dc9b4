"""What the HTTP side asks the service to do, where a handler needs more than an id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class MakeProposal:
    """A coach offers `session_count` sessions at `price_per_session` to a student."""

    coach_id: str
    student_id: str
    title: str
    description: str
    session_count: int
    price_per_session: int
    currency: str
    coach_name: str | None = None


@dataclass(frozen=True)
class AnswerProposal:
    """A student accepts or declines a proposal made to them."""

    proposal_id: uuid.UUID
    student_id: str
    student_name: str | None = None


@dataclass(frozen=True)
class CreateContract:
    """A student takes the contract of a proposal they accepted."""

    proposal_id: uuid.UUID
    student_id: str
    student_name: str | None = None


@dataclass(frozen=True)
class CancelContract:
    """Its student or coach, or an admin, ends a contract early, saying why."""

    contract_id: uuid.UUID
    user_id: str
    admin: bool
    reason: str
