"""Every handler against the in-memory unit of work: the rules, without database or broker."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractReinstated,
    ContractSuspended,
    SessionBooked,
    SessionCancelled,
)
from skileez_scheduling.domain.commands import (
    BookSession,
    CancelSession,
    ListPartySessions,
    ListSessions,
)
from skileez_scheduling.domain.contracts import ContractStatus, SessionTally
from skileez_scheduling.domain.errors import (
    CancellationLimitReached,
    ContractClosed,
    DomainError,
    InvalidSessionTime,
    NotAParticipant,
    NotFound,
    PaymentRequired,
    SessionAlreadyCancelled,
    SessionAlreadyStarted,
    SessionLimitReached,
    SessionOverlap,
    SuspendedContract,
)
from skileez_scheduling.domain.sessions import Session, SessionStatus
from skileez_scheduling.entrypoints.errors import REFUSALS
from skileez_scheduling.service_layer.booking import (
    book_session,
    cancel_session,
    contract_sessions,
    schedule_of,
    session_of,
    sessions_of_party,
)
from skileez_scheduling.service_layer.contracts import (
    contract_activated,
    contract_cancelled,
    contract_created,
    contract_reinstated,
    contract_suspended,
)

from .fakes import FakeUnitOfWork

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
ALLOWANCE = 10


def created(contract_id: uuid.UUID, **overrides: Any) -> ContractCreated:
    data = {
        "contract_id": contract_id,
        "proposal_id": uuid.uuid4(),
        "student_id": "student-1",
        "coach_id": "coach-1",
        "title": "Chess openings",
        "session_count": 3,
        "amount": 30_000,
        "currency": "eur",
        "created_at": NOW,
        **overrides,
    }
    return ContractCreated(**data)


def activated(contract_id: uuid.UUID, **overrides: Any) -> ContractActivated:
    data = {
        "contract_id": contract_id,
        "student_id": "student-1",
        "coach_id": "coach-1",
        "session_count": 3,
        "amount": 30_000,
        "currency": "eur",
        "payment_id": uuid.uuid4(),
        "activated_at": NOW,
        **overrides,
    }
    return ContractActivated(**data)


def cancelled(contract_id: uuid.UUID, **overrides: Any) -> ContractCancelled:
    data = {"contract_id": contract_id, "reason": "refunded", "cancelled_at": NOW, **overrides}
    return ContractCancelled(**data)


def suspended(contract_id: uuid.UUID, **overrides: Any) -> ContractSuspended:
    data = {
        "contract_id": contract_id,
        "reason": "payment disputed",
        "suspended_at": NOW,
        **overrides,
    }
    return ContractSuspended(**data)


def reinstated(contract_id: uuid.UUID, **overrides: Any) -> ContractReinstated:
    return ContractReinstated(**{"contract_id": contract_id, "reinstated_at": NOW, **overrides})


async def pending_contract(uow: FakeUnitOfWork, **terms: Any) -> uuid.UUID:
    contract_id = uuid.uuid4()
    await contract_created(created(contract_id, **terms), uow)
    return contract_id


async def active_contract(uow: FakeUnitOfWork, **terms: Any) -> uuid.UUID:
    contract_id = await pending_contract(uow, **terms)
    await contract_activated(activated(contract_id, **terms), uow)
    return contract_id


def booking(
    contract_id: uuid.UUID,
    *,
    user: str = "student-1",
    starts_at: datetime = NOW + timedelta(days=1),
    minutes: int = 60,
    now: datetime = NOW,
) -> BookSession:
    return BookSession(
        contract_id=contract_id,
        user_id=user,
        starts_at=starts_at,
        duration_minutes=minutes,
        now=now,
    )


async def book(uow: FakeUnitOfWork, contract_id: uuid.UUID, **when: Any) -> Session:
    booked = await book_session(booking(contract_id, **when), uow, cancellation_allowance=ALLOWANCE)
    return booked.session


def listing(
    contract_id: uuid.UUID,
    *,
    user: str = "student-1",
    status: SessionStatus | None = None,
    after: Session | None = None,
    limit: int = 50,
) -> ListSessions:
    position = None if after is None else (after.starts_at, after.id)
    return ListSessions(contract_id, user, status, position, limit)


def test_every_refusal_has_a_status_and_a_code_of_its_own() -> None:
    refusals = DomainError.__subclasses__()
    assert set(refusals) == set(REFUSALS)
    assert len({refusal.code for refusal in refusals}) == len(refusals)
    assert (PaymentRequired.code, REFUSALS[PaymentRequired]) == ("payment_required", 402)
    assert (NotFound.code, REFUSALS[NotFound]) == ("not_found", 404)


# Booking


async def test_the_student_and_the_coach_of_an_active_contract_book_sessions() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    by_student = await book(uow, contract_id)
    by_coach = await book(uow, contract_id, user="coach-1", starts_at=NOW + timedelta(days=2))
    assert by_student.booked_by == "student-1"
    assert by_coach.booked_by == "coach-1"
    assert (by_coach.student_id, by_coach.coach_id) == ("student-1", "coach-1")
    assert by_coach.ends_at - by_coach.starts_at == timedelta(hours=1)
    assert uow.sessions.rows == {by_student.id: by_student, by_coach.id: by_coach}
    assert await uow.sessions.tally(contract_id) == SessionTally(scheduled=2, cancelled=0)


async def test_a_pending_contract_needs_paying_first() -> None:
    uow = FakeUnitOfWork()
    contract_id = await pending_contract(uow)
    with pytest.raises(PaymentRequired, match="must be paid"):
        await book(uow, contract_id)
    assert uow.sessions.rows == {}


async def test_a_closed_contract_refuses_bookings() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    await contract_cancelled(cancelled(contract_id, reason="expired"), uow)
    with pytest.raises(ContractClosed, match=r"closed \(expired\)"):
        await book(uow, contract_id)
    assert uow.sessions.rows == {}


async def test_never_more_scheduled_sessions_than_the_contract_has() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=2)
    first = await book(uow, contract_id, starts_at=NOW + timedelta(days=1))
    await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    with pytest.raises(SessionLimitReached, match="All 2 sessions"):
        await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
    assert len(uow.sessions.rows) == 2
    # A cancelled session frees its place.
    await cancel_session(CancelSession(first.id, "coach-1", NOW), uow)
    await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
    assert await uow.sessions.tally(contract_id) == SessionTally(scheduled=2, cancelled=1)


async def test_past_its_allowance_of_cancellations_a_contract_takes_no_booking() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=2)
    kept = await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    for _ in range(2 + ALLOWANCE):
        moved = await book(uow, contract_id)
        await cancel_session(CancelSession(moved.id, "student-1", NOW), uow)
    with pytest.raises(CancellationLimitReached) as refused:
        await book(uow, contract_id)
    assert (refused.value.code, REFUSALS[CancellationLimitReached]) == (
        "cancellation_limit_reached",
        409,
    )
    assert await uow.sessions.tally(contract_id) == SessionTally(scheduled=1, cancelled=12)
    # What was booked stays, and can still be cancelled.
    await cancel_session(CancelSession(kept.id, "coach-1", NOW), uow)


async def test_a_coach_cannot_be_booked_twice_at_once_across_contracts() -> None:
    uow = FakeUnitOfWork()
    first = await active_contract(uow, student_id="student-a", coach_id="coach-x")
    second = await active_contract(uow, student_id="student-b", coach_id="coach-x")
    ten = NOW + timedelta(days=1)
    await book(uow, first, user="student-a", starts_at=ten)
    with pytest.raises(SessionOverlap, match="coach"):
        await book(uow, second, user="student-b", starts_at=ten + timedelta(minutes=30))
    # Back to back is not an overlap: sessions are half-open intervals.
    await book(uow, second, user="student-b", starts_at=ten + timedelta(hours=1))
    assert len(uow.sessions.rows) == 2


async def test_a_student_cannot_be_in_two_sessions_at_once() -> None:
    uow = FakeUnitOfWork()
    first = await active_contract(uow, student_id="student-s", coach_id="coach-a")
    second = await active_contract(uow, student_id="student-s", coach_id="coach-b")
    await book(uow, first, user="student-s", minutes=120)
    with pytest.raises(SessionOverlap, match="student"):
        await book(uow, second, user="coach-b", minutes=30)


async def test_a_cancelled_session_frees_its_time() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    session = await book(uow, contract_id)
    await cancel_session(CancelSession(session.id, "student-1", NOW), uow)
    again = await book(uow, contract_id)
    assert again.starts_at == session.starts_at


@pytest.mark.parametrize(
    "when",
    [
        pytest.param({"starts_at": NOW}, id="now"),
        pytest.param({"starts_at": NOW - timedelta(minutes=1)}, id="past"),
        pytest.param({"starts_at": datetime(2030, 6, 1, 10, 0)}, id="naive"),
        pytest.param({"starts_at": NOW + timedelta(days=731)}, id="too-far-ahead"),
        pytest.param({"minutes": 14}, id="too-short"),
        pytest.param({"minutes": 481}, id="too-long"),
    ],
)
async def test_bad_times_and_durations_are_refused(when: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    with pytest.raises(InvalidSessionTime):
        await book(uow, contract_id, **when)
    assert uow.sessions.rows == {}


async def test_only_the_contract_parties_may_book() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    with pytest.raises(NotAParticipant) as refused:
        await book(uow, contract_id, user="someone-else")
    assert refused.value.code == "forbidden"
    assert uow.sessions.rows == {}


async def test_a_contract_never_seen_is_not_found() -> None:
    uow = FakeUnitOfWork()
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=f"No contract {unknown} is known to scheduling."):
        await book(uow, unknown)
    with pytest.raises(NotFound):
        await contract_sessions(listing(unknown), uow)


async def test_a_contract_only_heard_of_through_its_cancellation_is_not_found() -> None:
    uow = FakeUnitOfWork()
    contract_id = uuid.uuid4()
    await contract_cancelled(cancelled(contract_id), uow)
    with pytest.raises(NotFound):
        await book(uow, contract_id)
    with pytest.raises(NotFound):
        await contract_sessions(listing(contract_id), uow)


# Looking


async def test_a_party_sees_the_contract_and_its_sessions_in_time_order() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    later = await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    sooner = await book(uow, contract_id, starts_at=NOW + timedelta(days=1))
    await cancel_session(CancelSession(later.id, "coach-1", NOW), uow)
    found = await contract_sessions(listing(contract_id, user="coach-1"), uow)
    assert (found.contract.status, found.contract.title) == (
        ContractStatus.ACTIVE,
        "Chess openings",
    )
    assert [s.id for s in found.sessions] == [sooner.id, later.id]
    assert [s.status for s in found.sessions] == [SessionStatus.SCHEDULED, SessionStatus.CANCELLED]
    assert found.tally == SessionTally(scheduled=1, cancelled=1)
    with pytest.raises(NotAParticipant):
        await contract_sessions(listing(contract_id, user="someone-else"), uow)


async def test_sessions_come_in_pages_by_start_time_and_by_status() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=5)
    booked = [await book(uow, contract_id, starts_at=NOW + timedelta(days=d)) for d in (3, 1, 2)]
    await cancel_session(CancelSession(booked[2].id, "coach-1", NOW), uow)
    in_time_order = [booked[1].id, booked[2].id, booked[0].id]

    first = await contract_sessions(listing(contract_id, limit=2), uow)
    assert [s.id for s in first.sessions] == in_time_order[:2]
    rest = await contract_sessions(listing(contract_id, after=first.sessions[-1]), uow)
    assert [s.id for s in rest.sessions] == in_time_order[2:]
    scheduled = await contract_sessions(listing(contract_id, status=SessionStatus.SCHEDULED), uow)
    assert [s.id for s in scheduled.sessions] == [booked[1].id, booked[0].id]
    cancelled = await contract_sessions(listing(contract_id, status=SessionStatus.CANCELLED), uow)
    assert [s.id for s in cancelled.sessions] == [booked[2].id]


async def test_the_schedule_shows_sessions_to_come_first_and_only_the_latest_cancellations() -> (
    None
):
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=4)
    held = await book(uow, contract_id, starts_at=NOW + timedelta(hours=1))
    held_later = await book(uow, contract_id, starts_at=NOW + timedelta(hours=3))
    to_come = await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    cancellations = []
    for minutes in range(4):
        moved = await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
        when = NOW + timedelta(minutes=minutes)
        cancellations.append(await cancel_session(CancelSession(moved.id, "coach-1", when), uow))

    later = NOW + timedelta(hours=5)
    schedule = await schedule_of(
        contract_id, uow, user_id="student-1", now=later, cancelled_shown=3
    )
    assert [s.id for s in schedule.upcoming] == [to_come.id]
    assert [s.id for s in schedule.past] == [held_later.id, held.id]
    assert [s.id for s in schedule.recently_cancelled] == [c.id for c in cancellations[:0:-1]]
    assert schedule.tally == SessionTally(scheduled=3, cancelled=4)
    with pytest.raises(NotAParticipant):
        await schedule_of(contract_id, uow, user_id="someone-else", now=later, cancelled_shown=3)


async def test_a_person_sees_their_sessions_across_contracts_to_come_first_then_past() -> None:
    uow = FakeUnitOfWork()
    chess = await active_contract(uow, session_count=5)
    go = await active_contract(uow, coach_id="coach-2", title="Go")
    others = await active_contract(uow, student_id="student-2", coach_id="coach-2")
    held = await book(uow, chess, starts_at=NOW + timedelta(hours=1))
    held_later = await book(uow, go, starts_at=NOW + timedelta(hours=3))
    soon = await book(uow, go, starts_at=NOW + timedelta(days=1))
    later = await book(uow, chess, starts_at=NOW + timedelta(days=2))
    await book(uow, others, user="student-2", starts_at=NOW + timedelta(days=3))
    in_order = [soon.id, later.id, held_later.id, held.id]
    now = NOW + timedelta(hours=5)

    def mine(after: Session | None = None, limit: int = 50) -> ListPartySessions:
        position = None if after is None else (after.starts_at, after.id)
        return ListPartySessions("student-1", now, position, limit)

    found = await sessions_of_party(mine(), uow)
    assert [s.id for s in found.sessions] == in_order
    assert {found.contracts[chess].title, found.contracts[go].title} == {"Chess openings", "Go"}
    for limit in (1, 2, 3):
        page = await sessions_of_party(mine(limit=limit), uow)
        rest = await sessions_of_party(mine(after=page.sessions[-1]), uow)
        assert [s.id for s in page.sessions + rest.sessions] == in_order
    coach_2 = await sessions_of_party(ListPartySessions("coach-2", now, None, 50), uow)
    assert {s.student_id for s in coach_2.sessions} == {"student-1", "student-2"}
    assert set(coach_2.contracts) == {go, others}
    nobody = await sessions_of_party(ListPartySessions("someone-else", now, None, 50), uow)
    assert (nobody.sessions, nobody.contracts) == ([], {})


async def test_one_session_is_for_its_parties() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    session = await book(uow, contract_id)
    assert await session_of(session.id, uow, user_id="coach-1") == session
    with pytest.raises(NotAParticipant, match="may see it"):
        await session_of(session.id, uow, user_id="someone-else")
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=f"No session {unknown}."):
        await session_of(unknown, uow, user_id="student-1")


# Cancelling


async def test_a_participant_cancels_a_session_once() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    session = await book(uow, contract_id)
    with pytest.raises(NotAParticipant):
        await cancel_session(CancelSession(session.id, "someone-else", NOW), uow)
    done = await cancel_session(CancelSession(session.id, "coach-1", NOW), uow)
    assert (done.status, done.cancelled_by, done.cancellation_reason, done.cancelled_at) == (
        SessionStatus.CANCELLED,
        "coach-1",
        "cancelled by the coach",
        NOW,
    )
    assert uow.sessions.rows[session.id] == done
    with pytest.raises(SessionAlreadyCancelled):
        await cancel_session(CancelSession(session.id, "student-1", NOW), uow)
    assert uow.sessions.rows[session.id].cancelled_by == "coach-1"


async def test_a_started_session_cannot_be_cancelled() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    session = await book(uow, contract_id, starts_at=NOW + timedelta(hours=1))
    started = session.starts_at + timedelta(minutes=5)
    with pytest.raises(SessionAlreadyStarted):
        await cancel_session(CancelSession(session.id, "student-1", started), uow)
    assert uow.sessions.rows[session.id].status is SessionStatus.SCHEDULED


async def test_cancelling_an_unknown_session_is_not_found() -> None:
    with pytest.raises(NotFound):
        await cancel_session(CancelSession(uuid.uuid4(), "student-1", NOW), FakeUnitOfWork())


# The contracts service's events


async def test_created_makes_a_pending_contract_and_activated_an_active_one() -> None:
    uow = FakeUnitOfWork()
    contract_id = await pending_contract(uow, session_count=4)
    assert uow.contracts.views[contract_id].status is ContractStatus.PENDING
    await contract_activated(activated(contract_id, session_count=4), uow)
    view = uow.contracts.views[contract_id]
    assert (view.status, view.student_id, view.coach_id, view.session_count) == (
        ContractStatus.ACTIVE,
        "student-1",
        "coach-1",
        4,
    )


async def test_activated_before_created_ends_active_with_the_title() -> None:
    uow = FakeUnitOfWork()
    contract_id = uuid.uuid4()
    await contract_activated(activated(contract_id), uow)
    await contract_created(created(contract_id, title="Endgames"), uow)
    view = uow.contracts.views[contract_id]
    assert (view.status, view.title) == (ContractStatus.ACTIVE, "Endgames")
    await book(uow, contract_id)


async def test_cancelled_before_created_ends_closed_with_its_parties() -> None:
    uow = FakeUnitOfWork()
    contract_id = uuid.uuid4()
    await contract_cancelled(cancelled(contract_id, reason="expired"), uow)
    await contract_created(created(contract_id), uow)
    view = uow.contracts.views[contract_id]
    assert (view.status, view.closed_reason, view.is_known) == (
        ContractStatus.CLOSED,
        "expired",
        True,
    )
    with pytest.raises(ContractClosed):
        await book(uow, contract_id)


@pytest.mark.parametrize(
    "order",
    sorted(
        set(itertools.permutations(["created", "activated", "cancelled", "cancelled", "created"]))
    ),
)
async def test_any_order_with_duplicates_ends_closed(order: tuple[str, ...]) -> None:
    uow = FakeUnitOfWork()
    contract_id = uuid.uuid4()
    handle = {
        "created": lambda: contract_created(created(contract_id), uow),
        "activated": lambda: contract_activated(activated(contract_id), uow),
        "cancelled": lambda: contract_cancelled(cancelled(contract_id), uow),
    }
    for name in order:
        await handle[name]()
    view = uow.contracts.views[contract_id]
    assert (view.status, view.student_id, view.session_count, view.title) == (
        ContractStatus.CLOSED,
        "student-1",
        3,
        "Chess openings",
    )


async def test_a_cancellation_cancels_the_sessions_from_its_time_on_once() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=4)
    before = await book(uow, contract_id, starts_at=NOW + timedelta(days=1))
    after = await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
    called_off = await book(uow, contract_id, starts_at=NOW + timedelta(days=4))
    await cancel_session(CancelSession(called_off.id, "student-1", NOW), uow)

    cancellation = cancelled(contract_id, reason="refunded", cancelled_at=NOW + timedelta(days=2))
    await contract_cancelled(cancellation, uow)
    await contract_cancelled(cancellation, uow)
    await contract_cancelled(cancelled(contract_id, reason="a later reason"), uow)

    rows = uow.sessions.rows
    assert rows[before.id].status is SessionStatus.SCHEDULED
    assert (rows[after.id].status, rows[after.id].cancellation_reason) == (
        SessionStatus.CANCELLED,
        "refunded",
    )
    assert rows[after.id].cancelled_by is None
    assert rows[called_off.id].cancellation_reason == "cancelled by the student"
    view = uow.contracts.views[contract_id]
    assert (view.status, view.closed_reason, view.closed_at) == (
        ContractStatus.CLOSED,
        "refunded",
        NOW + timedelta(days=2),
    )


# Suspensions (a disputed payment) and reinstatements (the dispute won)


async def test_a_suspended_contract_refuses_new_bookings_and_keeps_its_sessions() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    kept = await book(uow, contract_id)
    await contract_suspended(suspended(contract_id, reason="payment disputed"), uow)

    with pytest.raises(SuspendedContract, match=r"suspended \(payment disputed\)") as refused:
        await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    assert (refused.value.code, REFUSALS[SuspendedContract]) == ("contract_suspended", 409)
    assert "until it is reinstated" in str(refused.value)
    assert list(uow.sessions.rows) == [kept.id]
    assert uow.sessions.rows[kept.id].status is SessionStatus.SCHEDULED
    found = await contract_sessions(listing(contract_id, user="coach-1"), uow)
    assert (found.contract.shown_status, found.contract.is_suspended) == ("suspended", True)
    assert [s.status for s in found.sessions] == [SessionStatus.SCHEDULED]
    # A participant may still call off a session booked before the suspension.
    await cancel_session(CancelSession(kept.id, "student-1", NOW), uow)


async def test_a_reinstated_contract_accepts_bookings_again() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    await contract_suspended(suspended(contract_id), uow)
    await contract_reinstated(reinstated(contract_id, reinstated_at=NOW + timedelta(days=9)), uow)
    view = uow.contracts.views[contract_id]
    assert (view.status, view.shown_status) == (ContractStatus.ACTIVE, "active")
    await book(uow, contract_id)


async def test_a_suspension_heard_before_the_activation_still_refuses_bookings() -> None:
    """Only a paid contract is suspended: the suspension, not the missing payment, is the
    reason a booking waits."""
    uow = FakeUnitOfWork()
    contract_id = await pending_contract(uow)
    await contract_suspended(suspended(contract_id), uow)
    with pytest.raises(SuspendedContract):
        await book(uow, contract_id)
    await contract_activated(activated(contract_id), uow)
    with pytest.raises(SuspendedContract):
        await book(uow, contract_id)
    assert uow.sessions.rows == {}


LATER = NOW + timedelta(days=1)


@pytest.mark.parametrize(
    "order",
    sorted(
        set(
            itertools.permutations(["created", "activated", "suspended", "suspended", "reinstated"])
        )
    ),
)
async def test_a_won_dispute_in_any_order_with_duplicates_ends_bookable(
    order: tuple[str, ...],
) -> None:
    uow = FakeUnitOfWork()
    contract_id = uuid.uuid4()
    handle = {
        "created": lambda: contract_created(created(contract_id), uow),
        "activated": lambda: contract_activated(activated(contract_id), uow),
        "suspended": lambda: contract_suspended(suspended(contract_id, suspended_at=NOW), uow),
        "reinstated": lambda: contract_reinstated(
            reinstated(contract_id, reinstated_at=LATER), uow
        ),
    }
    for name in order:
        await handle[name]()
    view = uow.contracts.views[contract_id]
    assert (view.status, view.is_suspended, view.shown_status) == (
        ContractStatus.ACTIVE,
        False,
        "active",
    )
    assert (view.suspended_at, view.reinstated_at) == (NOW, LATER)
    await book(uow, contract_id)


@pytest.mark.parametrize(
    ("timeline", "suspended_by"),
    [
        pytest.param([("suspended", 1), ("reinstated", 2), ("suspended", 3)], 3, id="again"),
        pytest.param(
            [("suspended", 1), ("reinstated", 2), ("suspended", 3), ("reinstated", 4)],
            None,
            id="won-twice",
        ),
        pytest.param([("suspended", 1), ("reinstated", 1)], None, id="same-instant"),
    ],
)
async def test_the_latest_of_suspensions_and_reinstatements_holds_whatever_the_order(
    timeline: list[tuple[str, int]], suspended_by: int | None
) -> None:
    """A second dispute after a won one suspends again; a stale suspension never undoes a
    later reinstatement."""
    for order in itertools.permutations(timeline):
        uow = FakeUnitOfWork()
        contract_id = await active_contract(uow)
        for kind, hour in order:
            at = NOW + timedelta(hours=hour)
            if kind == "suspended":
                event = suspended(contract_id, reason=f"dispute {hour}", suspended_at=at)
                await contract_suspended(event, uow)
            else:
                await contract_reinstated(reinstated(contract_id, reinstated_at=at), uow)
        view = uow.contracts.views[contract_id]
        if suspended_by is None:
            assert not view.is_suspended, order
            await book(uow, contract_id)
        else:
            assert view.is_suspended, order
            with pytest.raises(SuspendedContract, match=f"dispute {suspended_by}"):
                await book(uow, contract_id)


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["cancelled", "suspended", "reinstated"]))
)
async def test_a_suspension_or_reinstatement_of_a_cancelled_contract_leaves_it_closed(
    order: tuple[str, ...],
) -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    handle = {
        "cancelled": lambda: contract_cancelled(cancelled(contract_id, reason="dispute lost"), uow),
        "suspended": lambda: contract_suspended(suspended(contract_id), uow),
        "reinstated": lambda: contract_reinstated(
            reinstated(contract_id, reinstated_at=LATER), uow
        ),
    }
    for name in order:
        await handle[name]()
    view = uow.contracts.views[contract_id]
    assert (view.status, view.shown_status, view.closed_reason) == (
        ContractStatus.CLOSED,
        "closed",
        "dispute lost",
    )
    with pytest.raises(ContractClosed):
        await book(uow, contract_id)


async def test_a_lost_dispute_cancels_the_future_sessions_of_the_suspended_contract() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=3)
    before = await book(uow, contract_id, starts_at=NOW + timedelta(days=1))
    after = await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
    await contract_suspended(suspended(contract_id, suspended_at=NOW), uow)

    lost = cancelled(contract_id, reason="dispute lost", cancelled_at=NOW + timedelta(days=2))
    await contract_cancelled(lost, uow)

    rows = uow.sessions.rows
    assert rows[before.id].status is SessionStatus.SCHEDULED
    assert (rows[after.id].status, rows[after.id].cancellation_reason) == (
        SessionStatus.CANCELLED,
        "dispute lost",
    )
    view = uow.contracts.views[contract_id]
    assert (view.status, view.shown_status) == (ContractStatus.CLOSED, "closed")


# The events scheduling publishes

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_booking_publishes_one_session_booked_and_a_refusal_none() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=2)
    session = await book(uow, contract_id, user="coach-1", minutes=90)
    assert uow.sessions.published == [
        SessionBooked(
            session_id=session.id,
            contract_id=contract_id,
            starts_at=NOW + timedelta(days=1),
            duration_minutes=90,
            by="coach-1",
            at=NOW,
        )
    ]
    with pytest.raises(SessionOverlap):
        await book(uow, contract_id)
    await book(uow, contract_id, starts_at=NOW + timedelta(days=2))
    with pytest.raises(SessionLimitReached):
        await book(uow, contract_id, starts_at=NOW + timedelta(days=3))
    assert [type(event) for event in uow.sessions.published] == [SessionBooked] * 2


async def test_a_participants_cancellation_publishes_one_session_cancelled_by_them() -> None:
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow)
    session = await book(uow, contract_id)
    later = NOW + timedelta(hours=1)
    await cancel_session(CancelSession(session.id, "coach-1", later), uow)
    with pytest.raises(SessionAlreadyCancelled):
        await cancel_session(CancelSession(session.id, "coach-1", later), uow)
    [_, cancellation] = uow.sessions.published
    assert cancellation == SessionCancelled(
        session_id=session.id,
        contract_id=contract_id,
        starts_at=session.starts_at,
        duration_minutes=60,
        by="coach-1",
        at=later,
    )


async def test_a_contracts_cancellation_cancels_its_sessions_to_come_by_system_once() -> None:
    """Never one that has started by the time the cancellation is applied, even if it started
    after the cancellation (by the clock: NOW is years ahead, so that one is put in by hand)."""
    uow = FakeUnitOfWork()
    contract_id = await active_contract(uow, session_count=4)
    to_come = [await book(uow, contract_id, starts_at=NOW + timedelta(days=d)) for d in (1, 2)]
    clock = datetime.now(UTC)
    started = replace(to_come[0], id=uuid.uuid4(), starts_at=clock - timedelta(minutes=10))
    started.ends_at = started.starts_at + timedelta(hours=1)
    uow.sessions.rows[started.id] = started
    uow.sessions.published.clear()

    cancellation = cancelled(contract_id, cancelled_at=clock - timedelta(hours=1))
    await contract_cancelled(cancellation, uow)
    await contract_cancelled(cancellation, uow)
    await contract_cancelled(cancelled(contract_id, reason="a later reason"), uow)

    published = uow.sessions.published
    assert [event.session_id for event in published] == [session.id for session in to_come]
    assert all(isinstance(event, SessionCancelled) for event in published)
    assert {event.by for event in published} == {"system"}
    assert all(clock <= event.at <= datetime.now(UTC) for event in published)
    assert uow.sessions.rows[started.id].status is SessionStatus.SCHEDULED


async def test_the_activation_keeps_the_trace_it_was_applied_under_the_first_time() -> None:
    uow = FakeUnitOfWork(traceparent=TRACEPARENT)
    contract_id = await active_contract(uow)
    uow.traceparent = "00-11111111111111111111111111111111-2222222222222222-01"
    await contract_activated(activated(contract_id), uow)
    assert uow.contracts.views[contract_id].activation_traceparent == TRACEPARENT
    untraced = FakeUnitOfWork()
    other = await active_contract(untraced)
    assert untraced.contracts.views[other].activation_traceparent is None
