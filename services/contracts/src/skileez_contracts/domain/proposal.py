"""A coach's offer of paid sessions to one student, which the student accepts or declines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skileez_contracts.domain.currencies import chargeable_currency
from skileez_contracts.domain.errors import NotAParty, ProposalNotOpen, SelfProposal
from skileez_contracts.domain.money import total_amount


class ProposalStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@dataclass
class Proposal:
    id: uuid.UUID
    coach_id: str
    student_id: str
    title: str
    description: str
    session_count: int
    price_per_session: int
    currency: str
    created_at: datetime
    status: ProposalStatus = ProposalStatus.OPEN
    decided_at: datetime | None = None
    coach_name: str | None = None
    """The coach's display name when they proposed, if their token carried one."""
    student_name: str | None = None
    """The student's display name when they answered, if their token carried one."""

    @classmethod
    def propose(
        cls,
        *,
        coach_id: str,
        student_id: str,
        title: str,
        description: str,
        session_count: int,
        price_per_session: int,
        currency: str,
        now: datetime,
        coach_name: str | None = None,
    ) -> Proposal:
        """A new open proposal, priced so that Stripe can charge it in its currency; a coach
        cannot coach themselves."""
        if coach_id == student_id:
            raise SelfProposal("A coach cannot make a proposal to themselves.")
        chargeable = chargeable_currency(currency)
        chargeable.check_price(price_per_session, total_amount(session_count, price_per_session))
        return cls(
            id=uuid.uuid4(),
            coach_id=coach_id,
            student_id=student_id,
            title=title,
            description=description,
            session_count=session_count,
            price_per_session=price_per_session,
            currency=currency,
            created_at=now,
            coach_name=coach_name,
        )

    @property
    def amount(self) -> int:
        return total_amount(self.session_count, self.price_per_session)

    @property
    def coach_display(self) -> str:
        """The coach as people read it: their name, else their id."""
        return self.coach_name or self.coach_id

    @property
    def student_display(self) -> str:
        """The student as people read it: their name once they answered, else their id."""
        return self.student_name or self.student_id

    def is_party(self, user_id: str) -> bool:
        return user_id in (self.coach_id, self.student_id)

    def is_open(self) -> bool:
        return self.status is ProposalStatus.OPEN

    def accept(self, by: str, now: datetime, *, name: str | None = None) -> None:
        self._decide(by, ProposalStatus.ACCEPTED, now, name)

    def decline(self, by: str, now: datetime, *, name: str | None = None) -> None:
        self._decide(by, ProposalStatus.DECLINED, now, name)

    def _decide(self, by: str, outcome: ProposalStatus, now: datetime, name: str | None) -> None:
        if by != self.student_id:
            raise NotAParty("Only the student this proposal is made to may answer it.")
        if self.status is not ProposalStatus.OPEN:
            raise ProposalNotOpen(f"The proposal is already {self.status}.")
        self.status = outcome
        self.decided_at = now
        self.student_name = name
