"""A contract as the operators see it, from contracts' events in any order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from skileez_backoffice.domain.facts import earliest, latest, of_the_latest


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


@dataclass
class ContractView:
    id: UUID
    proposal_id: UUID | None = None
    student_id: str | None = None
    student_name: str | None = None
    coach_id: str | None = None
    coach_name: str | None = None
    title: str | None = None
    session_count: int | None = None
    amount: int | None = None
    currency: str | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    paid_by: UUID | None = None
    payment_failed_at: datetime | None = None
    payment_failure: str | None = None
    suspended_at: datetime | None = None
    suspension_reason: str | None = None
    reinstated_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    cancelled_by: str | None = None
    refund_owed: int | None = None

    @property
    def status(self) -> ContractStatus:
        """Cancelled is final; else the latest of activation, suspension and reinstatement."""
        if self.cancelled_at is not None:
            return ContractStatus.CANCELLED
        resumed = latest(self.activated_at, self.reinstated_at)
        if self.suspended_at is not None and (resumed is None or self.suspended_at > resumed):
            return ContractStatus.SUSPENDED
        if resumed is not None:
            return ContractStatus.ACTIVE
        return ContractStatus.PENDING

    def created(
        self,
        *,
        proposal_id: UUID,
        student_id: str,
        student_name: str | None,
        coach_id: str,
        coach_name: str | None,
        title: str,
        session_count: int,
        amount: int,
        currency: str,
        created_at: datetime,
    ) -> None:
        self.proposal_id = proposal_id
        self.student_name = student_name
        self.coach_name = coach_name
        self.title = title
        self.created_at = created_at
        self._terms(student_id, coach_id, session_count, amount, currency)

    def activated(
        self,
        *,
        student_id: str,
        coach_id: str,
        session_count: int,
        amount: int,
        currency: str,
        payment_id: UUID,
        activated_at: datetime,
    ) -> None:
        self._terms(student_id, coach_id, session_count, amount, currency)
        self.paid_by = of_the_latest(self.activated_at, self.paid_by, activated_at, payment_id)
        self.activated_at = latest(self.activated_at, activated_at)

    def payment_failed(self, reason: str, failed_at: datetime) -> None:
        self.payment_failure = of_the_latest(
            self.payment_failed_at, self.payment_failure, failed_at, reason
        )
        self.payment_failed_at = latest(self.payment_failed_at, failed_at)

    def suspended(self, reason: str, suspended_at: datetime) -> None:
        self.suspension_reason = of_the_latest(
            self.suspended_at, self.suspension_reason, suspended_at, reason
        )
        self.suspended_at = latest(self.suspended_at, suspended_at)

    def reinstated(self, reinstated_at: datetime) -> None:
        self.reinstated_at = latest(self.reinstated_at, reinstated_at)

    def cancelled(
        self, reason: str, cancelled_by: str, refund_owed: int, cancelled_at: datetime
    ) -> None:
        """The first cancellation decides (a contract is cancelled once)."""
        if self.cancelled_at is None or cancelled_at < self.cancelled_at:
            self.cancellation_reason = reason
            self.cancelled_by = cancelled_by
            self.refund_owed = refund_owed
        self.cancelled_at = earliest(self.cancelled_at, cancelled_at)

    def _terms(
        self, student_id: str, coach_id: str, session_count: int, amount: int, currency: str
    ) -> None:
        self.student_id = student_id
        self.coach_id = coach_id
        self.session_count = session_count
        self.amount = amount
        self.currency = currency
