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
        )

    @property
    def amount(self) -> int:
        return total_amount(self.session_count, self.price_per_session)

    def is_party(self, user_id: str) -> bool:
        return user_id in (self.coach_id, self.student_id)

    def accept(self, by: str, now: datetime) -> None:
        self._decide(by, ProposalStatus.ACCEPTED, now)

    def decline(self, by: str, now: datetime) -> None:
        self._decide(by, ProposalStatus.DECLINED, now)

    def _decide(self, by: str, outcome: ProposalStatus, now: datetime) -> None:
        if by != self.student_id:
            raise NotAParty("Only the student this proposal is made to may answer it.")
        if self.status is not ProposalStatus.OPEN:
            raise ProposalNotOpen(f"The proposal is already {self.status}.")
        self.status = outcome
        self.decided_at = now
