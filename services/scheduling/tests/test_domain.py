"""The domain rules, without I/O."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from skileez_scheduling.domain.contracts import ContractStatus, ContractView, SessionTally
from skileez_scheduling.domain.errors import (
    CancellationLimitReached,
    ContractClosed,
    DomainError,
    InvalidSessionTime,
    NotAParticipant,
    PaymentRequired,
    SessionAlreadyCancelled,
    SessionAlreadyStarted,
    SessionLimitReached,
    SuspendedContract,
)
from skileez_scheduling.domain.sessions import Session, SessionStatus

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
CANCELLED_AT = datetime(2030, 5, 1, 11, 0, tzinfo=UTC)
ALLOWANCE = 10


def record(view: ContractView, event: str) -> None:
    terms = {"student_id": "s", "coach_id": "c", "session_count": 2}
    if event == "created":
        view.record_created(**terms, title="Piano")
    elif event == "activated":
        view.record_activated(**terms)
    else:
        view.record_cancelled(reason="refunded", cancelled_at=CANCELLED_AT)


def active(session_count: int = 2) -> ContractView:
    view = ContractView(uuid.uuid4())
    view.record_activated(student_id="s", coach_id="c", session_count=session_count)
    return view


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (("created",), ContractStatus.PENDING),
        (("created", "activated"), ContractStatus.ACTIVE),
        (("created", "activated", "cancelled"), ContractStatus.CLOSED),
        (("created", "cancelled"), ContractStatus.CLOSED),
    ],
)
def test_any_order_and_any_repetition_gives_the_same_view(
    events: tuple[str, ...], expected: ContractStatus
) -> None:
    for order in itertools.permutations(events * 2):
        view = ContractView(uuid.uuid4())
        for event in order:
            record(view, event)
        assert view.status is expected
        assert (view.student_id, view.coach_id, view.session_count) == ("s", "c", 2)
        assert view.title == "Piano"


def test_a_cancellation_alone_does_not_make_a_known_contract() -> None:
    view = ContractView(uuid.uuid4())
    assert view.record_cancelled(reason="expired", cancelled_at=CANCELLED_AT)
    assert not view.is_known
    assert not view.is_participant("s")
    assert not view.record_cancelled(reason="again", cancelled_at=NOW)
    assert view.closed_reason == "expired"


def book(
    view: ContractView, *, user: str = "s", scheduled: int = 0, cancelled: int = 0, **when: object
) -> Session:
    starts_at = when.get("starts_at", NOW + timedelta(days=1))
    minutes = when.get("minutes", 60)
    assert isinstance(starts_at, datetime)
    assert isinstance(minutes, int)
    return Session.book(
        view,
        booked_by=user,
        starts_at=starts_at,
        duration_minutes=minutes,
        sessions=SessionTally(scheduled=scheduled, cancelled=cancelled),
        cancellation_allowance=ALLOWANCE,
        now=NOW,
    )


def test_a_booking_takes_the_contract_parties_and_is_kept_in_utc() -> None:
    view = active()
    paris = timezone(timedelta(hours=2))
    session = book(view, user="c", starts_at=datetime(2030, 5, 3, 10, 0, tzinfo=paris), minutes=45)
    assert (session.student_id, session.coach_id, session.booked_by) == ("s", "c", "c")
    assert session.starts_at == datetime(2030, 5, 3, 8, 0, tzinfo=UTC)
    assert session.starts_at.tzinfo is UTC
    assert session.duration_minutes == 45
    assert session.status is SessionStatus.SCHEDULED


def pending() -> ContractView:
    view = ContractView(uuid.uuid4())
    record(view, "created")
    return view


def closed() -> ContractView:
    view = active()
    record(view, "cancelled")
    return view


def suspended() -> ContractView:
    view = active()
    view.record_suspended(reason="payment disputed", suspended_at=NOW)
    return view


@pytest.mark.parametrize(
    ("contract", "kwargs", "refusal"),
    [
        (pending, {}, PaymentRequired),
        (suspended, {}, SuspendedContract),
        (closed, {}, ContractClosed),
        (active, {"scheduled": 2}, SessionLimitReached),
        (active, {"cancelled": 2 + ALLOWANCE}, CancellationLimitReached),
        (active, {"user": "stranger"}, NotAParticipant),
        (active, {"starts_at": NOW}, InvalidSessionTime),
        (active, {"starts_at": NOW - timedelta(seconds=1)}, InvalidSessionTime),
        (active, {"starts_at": datetime(2030, 6, 1, 10, 0)}, InvalidSessionTime),
        (active, {"starts_at": NOW + timedelta(days=731)}, InvalidSessionTime),
        (active, {"minutes": 14}, InvalidSessionTime),
        (active, {"minutes": 481}, InvalidSessionTime),
        (active, {"minutes": 10**30}, InvalidSessionTime),
    ],
)
def test_booking_refusals(
    contract: Callable[[], ContractView],
    kwargs: dict[str, object],
    refusal: type[DomainError],
) -> None:
    with pytest.raises(refusal):
        book(contract(), **kwargs)  # type: ignore[arg-type]


def test_past_the_session_count_plus_the_allowance_of_cancellations_no_booking() -> None:
    view = active(session_count=4)
    assert view.cancellation_limit(ALLOWANCE) == 14
    book(view, scheduled=3, cancelled=13)
    with pytest.raises(
        CancellationLimitReached, match="14 sessions of this contract were cancelled"
    ) as refused:
        book(view, scheduled=3, cancelled=14)
    assert refused.value.code == "cancellation_limit_reached"
    assert refused.value.fields == {"cancellation_limit": 14}


def test_a_participant_cancels_before_the_start_once() -> None:
    session = book(active())
    with pytest.raises(NotAParticipant):
        session.cancel_by_participant("stranger", NOW)
    session.cancel_by_participant("s", NOW)
    assert session.status is SessionStatus.CANCELLED
    assert (session.cancelled_by, session.cancellation_reason) == ("s", "cancelled by the student")
    with pytest.raises(SessionAlreadyCancelled):
        session.cancel_by_participant("c", NOW)


def test_a_started_session_cannot_be_cancelled_by_a_participant() -> None:
    session = book(active())
    with pytest.raises(SessionAlreadyStarted):
        session.cancel_by_participant("c", session.starts_at)


def test_closing_the_contract_keeps_an_earlier_cancellation() -> None:
    session = book(active())
    session.cancel_by_participant("c", NOW)
    session.cancel_for_closed_contract("refunded", NOW + timedelta(hours=1))
    assert session.cancellation_reason == "cancelled by the coach"
    other = book(active())
    other.cancel_for_closed_contract("refunded", NOW)
    assert (other.status, other.cancelled_by, other.cancellation_reason) == (
        SessionStatus.CANCELLED,
        None,
        "refunded",
    )


def test_only_news_about_a_suspension_changes_the_view() -> None:
    view = suspended()
    assert view.is_suspended
    assert not view.record_suspended(reason="the same, again", suspended_at=NOW)
    assert not view.record_suspended(reason="older", suspended_at=NOW - timedelta(hours=1))
    assert view.suspension_reason == "payment disputed"
    # At the same instant, the reinstatement wins: it answers that suspension.
    assert view.record_reinstated(reinstated_at=NOW)
    assert not view.is_suspended
    assert not view.record_reinstated(reinstated_at=NOW - timedelta(hours=1))
    assert view.reinstated_at == NOW
    assert view.record_suspended(reason="a second dispute", suspended_at=NOW + timedelta(hours=1))
    assert (view.is_suspended, view.shown_status) == (True, "suspended")


def test_a_closed_contract_is_neither_suspended_nor_reinstated() -> None:
    view = closed()
    assert not view.record_suspended(reason="payment disputed", suspended_at=NOW)
    assert not view.record_reinstated(reinstated_at=NOW)
    assert (view.suspended_at, view.reinstated_at, view.shown_status) == (None, None, "closed")
    # Suspended, then closed: closed is what it is.
    view = suspended()
    record(view, "cancelled")
    assert (view.is_suspended, view.shown_status) == (False, "closed")
