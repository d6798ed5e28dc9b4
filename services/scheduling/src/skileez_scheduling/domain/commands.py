"""What a participant asks of scheduling over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class BookSession:
    contract_id: UUID
    user_id: str
    starts_at: datetime
    duration_minutes: int
    now: datetime


@dataclass(frozen=True)
class CancelSession:
    session_id: UUID
    user_id: str
    now: datetime
