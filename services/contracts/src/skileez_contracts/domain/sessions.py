"""The contract's sessions as scheduling reports them (SessionBooked, SessionCancelled): what
the cancellation policy counts as delivered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BookedSession:
    id: uuid.UUID
    contract_id: uuid.UUID
    starts_at: datetime
    duration_minutes: int
    cancelled_at: datetime | None = None
    """Set once scheduling says it was cancelled; a cancellation is final, whatever came first."""

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None
