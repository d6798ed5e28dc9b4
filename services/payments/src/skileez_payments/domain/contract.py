"""What payments knows of a contract: enough to ask for the right amount from the right person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

SESSION_UNIT = "session"
"""The unit of a line item that counts sessions, as Checkout shows it ("4 sessions")."""


@dataclass(frozen=True)
class CheckoutLine:
    quantity: int
    unit_amount: int
    unit_label: str | None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


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
    student_name: str | None = None
    coach_name: str | None = None

    def is_party(self, user_id: str) -> bool:
        return user_id in (self.student_id, self.coach_id)

    @property
    def price_per_session(self) -> int | None:
        """What one session costs, when the amount splits evenly between them (contracts prices
        a contract as sessions times a price per session, so it does)."""
        price, rest = divmod(self.amount, self.session_count)
        return None if rest else price

    def line_of(self, amount: int) -> CheckoutLine:
        """`amount` as the line item the student reads at Checkout: the sessions at their price
        when it is the whole contract's and splits evenly, else one item of `amount`."""
        if amount == self.amount and self.price_per_session is not None:
            return CheckoutLine(self.session_count, self.price_per_session, SESSION_UNIT)
        return CheckoutLine(1, amount, None)
