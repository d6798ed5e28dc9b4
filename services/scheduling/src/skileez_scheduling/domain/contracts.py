"""Scheduling's own view of a contract, built from the contracts service's events.

Events may arrive in any order and more than once, so the view only ever moves forward:
pending -> active -> closed, and the terms (parties, session count) are learnt from whichever
event brings them first. A suspension (a disputed payment) comes and goes, possibly more than
once: the view keeps the latest suspension and the latest reinstatement it has heard of, and the
later of the two says whether the contract is suspended now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from skileez_scheduling.domain.errors import (
    CancellationLimitReached,
    ContractClosed,
    NotAParticipant,
    PaymentRequired,
    SessionLimitReached,
    SuspendedContract,
)


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    CLOSED = "closed"


_PROGRESS = {ContractStatus.PENDING: 0, ContractStatus.ACTIVE: 1, ContractStatus.CLOSED: 2}


@dataclass(frozen=True)
class SessionTally:
    """How many of a contract's sessions are scheduled, and how many were cancelled."""

    scheduled: int
    cancelled: int


@dataclass
class ContractView:
    id: UUID
    status: ContractStatus = ContractStatus.PENDING
    student_id: str | None = None
    coach_id: str | None = None
    session_count: int | None = None
    title: str | None = None
    student_name: str | None = None
    coach_name: str | None = None
    closed_reason: str | None = None
    closed_at: datetime | None = None
    suspended_at: datetime | None = None
    suspension_reason: str | None = None
    reinstated_at: datetime | None = None
    activation_traceparent: str | None = None
    """The W3C trace context under which the activation was applied (the payment's trace), for
    bookings' spans to link to; None when its event carried none."""

    @property
    def is_known(self) -> bool:
        """True once an event has told who the parties are (a lone cancellation does not)."""
        return self.student_id is not None and self.coach_id is not None

    @property
    def is_suspended(self) -> bool:
        """Suspended by a suspension later than any reinstatement; a closed contract is closed,
        not suspended."""
        if self.status is ContractStatus.CLOSED or self.suspended_at is None:
            return False
        return self.reinstated_at is None or self.suspended_at > self.reinstated_at

    @property
    def shown_status(self) -> str:
        """The status its parties see: `suspended` while suspended, else the stored one."""
        return "suspended" if self.is_suspended else self.status.value

    def is_participant(self, user_id: str) -> bool:
        return self.is_known and user_id in (self.student_id, self.coach_id)

    def record_created(
        self,
        *,
        student_id: str,
        coach_id: str,
        session_count: int,
        title: str,
        student_name: str | None = None,
        coach_name: str | None = None,
    ) -> None:
        self._learn_terms(student_id, coach_id, session_count)
        self.title = self.title or title
        self.student_name = self.student_name or student_name
        self.coach_name = self.coach_name or coach_name

    def name_of(self, user_id: str | None) -> str | None:
        """The display name of the party `user_id`, when the contract's events told it."""
        if user_id is None:
            return None
        if user_id == self.student_id:
            return self.student_name
        if user_id == self.coach_id:
            return self.coach_name
        return None

    def record_activated(
        self,
        *,
        student_id: str,
        coach_id: str,
        session_count: int,
        traceparent: str | None = None,
    ) -> None:
        """Active from now on; the first activation's trace is the one kept."""
        self._learn_terms(student_id, coach_id, session_count)
        self._advance(ContractStatus.ACTIVE)
        self.activation_traceparent = self.activation_traceparent or traceparent

    def record_cancelled(self, *, reason: str, cancelled_at: datetime) -> bool:
        """Close the contract; True only the first time (its future sessions are then cancelled)."""
        if self.status is ContractStatus.CLOSED:
            return False
        self._advance(ContractStatus.CLOSED)
        self.closed_reason = reason
        self.closed_at = cancelled_at
        return True

    def record_suspended(self, *, reason: str, suspended_at: datetime) -> bool:
        """Keep the latest suspension; True if this one is news. A closed contract stays closed,
        and a suspension older than a reinstatement already seen does not undo it."""
        if self.status is ContractStatus.CLOSED:
            return False
        if self.suspended_at is not None and suspended_at <= self.suspended_at:
            return False
        self.suspended_at = suspended_at
        self.suspension_reason = reason
        return True

    def record_reinstated(self, *, reinstated_at: datetime) -> bool:
        """Keep the latest reinstatement; True if this one is news. It lifts only the
        suspensions before it (at the same instant, the reinstatement wins)."""
        if self.status is ContractStatus.CLOSED:
            return False
        if self.reinstated_at is not None and reinstated_at <= self.reinstated_at:
            return False
        self.reinstated_at = reinstated_at
        return True

    def check_participant(self, user_id: str) -> None:
        if not self.is_participant(user_id):
            raise NotAParticipant("Only the contract's student or coach may do this.")

    def cancellation_limit(self, allowance: int) -> int:
        """How many cancelled sessions the contract may have and still take bookings: one per
        session it was paid for (each may be moved once) and `allowance` more."""
        return (self.session_count or 0) + allowance

    def check_can_book(self, sessions: SessionTally, cancellation_allowance: int) -> None:
        """A new session fits: the contract is paid, still open, not suspended, has a free
        session left, and has not had its allowance of cancellations (booking and cancelling
        without end would fill its list for free)."""
        if self.status is ContractStatus.CLOSED:
            raise ContractClosed(f"The contract is closed ({self.closed_reason}).")
        # Only a paid contract is suspended: the suspension may be heard of before the activation.
        if self.is_suspended:
            raise SuspendedContract(
                f"The contract is suspended ({self.suspension_reason}): no new session can be"
                " booked until it is reinstated. Sessions already booked are kept."
            )
        if self.status is ContractStatus.PENDING:
            raise PaymentRequired("The contract must be paid before sessions can be scheduled.")
        if self.session_count is not None and sessions.scheduled >= self.session_count:
            raise SessionLimitReached(
                f"All {self.session_count} sessions of this contract are already scheduled."
            )
        limit = self.cancellation_limit(cancellation_allowance)
        if sessions.cancelled >= limit:
            raise CancellationLimitReached(
                f"{sessions.cancelled} sessions of this contract were cancelled, as many as it"
                " allows: no new session can be booked. Sessions already booked are kept.",
                cancellation_limit=limit,
            )

    def _learn_terms(self, student_id: str, coach_id: str, session_count: int) -> None:
        self.student_id = self.student_id or student_id
        self.coach_id = self.coach_id or coach_id
        self.session_count = self.session_count or session_count

    def _advance(self, status: ContractStatus) -> None:
        if _PROGRESS[status] > _PROGRESS[self.status]:
            self.status = status
