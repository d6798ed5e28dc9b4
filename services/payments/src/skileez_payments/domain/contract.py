"""What payments knows of a contract: enough to ask for the right amount from the right person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PayableContract:
    id: uuid.UUID
    student_id: str
    coach_id: str
    title: str
    session_count: int
    amount: int
    currency: str
    created_at: datetime

    def is_party(self, user_id: str) -> bool:
        return user_id in (self.student_id, self.coach_id)
