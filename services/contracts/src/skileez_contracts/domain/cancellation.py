"""Ending a contract early: who may, and what goes back to the student.

The refund is the price per session times the sessions not yet delivered. A session already
started counts as delivered; so does one starting within the canceller's notice (a late
cancellation), which is the student's notice when the student cancels (24 hours by default),
and the coach's (none by default) when the coach or an admin does: the student never pays for
the other side ending the contract. Sessions never booked are undelivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from skileez_contracts.domain.sessions import BookedSession


class Canceller(StrEnum):
    STUDENT = "student"
    COACH = "coach"
    ADMIN = "admin"
    SYSTEM = "system"
    """A payment's outcome (a full refund, a lost dispute) ended the contract."""


@dataclass(frozen=True)
class CancellationPolicy:
    """The deployment's terms (CANCELLATION_STUDENT_NOTICE_HOURS, ..._COACH_NOTICE_HOURS)."""

    student_notice: timedelta = timedelta(hours=24)
    coach_notice: timedelta = timedelta(0)

    def notice_for(self, by: Canceller) -> timedelta:
        """An admin ends a contract on the platform's behalf: the coach's notice applies."""
        return self.student_notice if by is Canceller.STUDENT else self.coach_notice


@dataclass(frozen=True)
class CancellationQuote:
    """What a cancellation by `cancelled_by` now would refund, and how it was computed."""

    refund_amount: int
    currency: str
    sessions_delivered: int
    sessions_refunded: int
    price_per_session: int
    sessions_held: int
    """Booked sessions that have started: delivered."""
    sessions_within_notice: int
    """Booked sessions starting within the notice: delivered too (a late cancellation)."""
    notice: timedelta
    cancelled_by: Canceller
    paid: bool
    """Whether the contract was paid: a pending one is withdrawn, nothing goes back."""
    already_refunded: int = 0

    @property
    def notice_hours(self) -> float:
        return self.notice.total_seconds() / 3600


def delivered_sessions(
    sessions: Iterable[BookedSession], notice: timedelta, now: datetime
) -> tuple[int, int]:
    """(started, starting within `notice`) among the booked sessions not cancelled."""
    held = within = 0
    for session in sessions:
        if session.is_cancelled:
            continue
        if session.starts_at <= now:
            held += 1
        elif session.starts_at < now + notice:
            within += 1
    return held, within
