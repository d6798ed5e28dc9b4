"""The cancellation policy and who may end a contract, without I/O."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from skileez_contracts.domain import events
from skileez_contracts.domain.cancellation import CancellationPolicy, Canceller
from skileez_contracts.domain.contract import Contract, ContractStatus
from skileez_contracts.domain.errors import (
    ContractAlreadyCancelled,
    ContractDisputed,
    NotAParty,
    PaymentUnderway,
)
from skileez_contracts.domain.notifications import NotificationKind, contract_notifications
from skileez_contracts.domain.sessions import BookedSession

from .test_domain import NOW, active_contract, dispute, pending_contract, refund

POLICY = CancellationPolicy()


def booked(contract: Contract, starts_in: timedelta, *, cancelled: bool = False) -> BookedSession:
    return BookedSession(
        id=uuid.uuid4(),
        contract_id=contract.id,
        starts_at=NOW + starts_in,
        duration_minutes=60,
        cancelled_at=NOW if cancelled else None,
    )


def sessions_of(contract: Contract) -> list[BookedSession]:
    """Held two days ago, started ten minutes ago, in 3 hours, in 3 days, and one cancelled
    that would have been in 2 hours: 10 sessions at 50.00 EUR each."""
    return [
        booked(contract, timedelta(days=-2)),
        booked(contract, timedelta(minutes=-10)),
        booked(contract, timedelta(hours=3)),
        booked(contract, timedelta(days=3)),
        booked(contract, timedelta(hours=2), cancelled=True),
    ]


def test_the_student_pays_for_sessions_held_and_starting_within_24_hours() -> None:
    contract = active_contract()
    quote = contract.cancellation_quote(sessions_of(contract), POLICY, Canceller.STUDENT, NOW)
    assert (quote.sessions_held, quote.sessions_within_notice) == (2, 1)
    assert (quote.sessions_delivered, quote.sessions_refunded) == (3, 7)
    assert (quote.refund_amount, quote.currency, quote.price_per_session) == (35_000, "eur", 5_000)


@pytest.mark.parametrize("by", [Canceller.COACH, Canceller.ADMIN])
def test_the_coach_or_an_admin_refunds_every_session_not_held(by: Canceller) -> None:
    contract = active_contract()
    quote = contract.cancellation_quote(sessions_of(contract), POLICY, by, NOW)
    assert (quote.sessions_delivered, quote.sessions_refunded) == (2, 8)
    assert quote.refund_amount == 40_000


def test_the_notice_is_the_deployments() -> None:
    contract = active_contract()
    strict = CancellationPolicy(student_notice=timedelta(days=4), coach_notice=timedelta(hours=4))
    student = contract.cancellation_quote(sessions_of(contract), strict, Canceller.STUDENT, NOW)
    coach = contract.cancellation_quote(sessions_of(contract), strict, Canceller.COACH, NOW)
    assert (student.sessions_delivered, student.refund_amount) == (4, 30_000)
    assert (coach.sessions_delivered, coach.refund_amount) == (3, 35_000)


def test_never_more_than_is_left_of_the_payment() -> None:
    contract = active_contract()
    refund(contract, 45_000, 45_000, fully=False)
    quote = contract.cancellation_quote([], POLICY, Canceller.COACH, NOW)
    assert (quote.sessions_refunded, quote.refund_amount, quote.already_refunded) == (
        10,
        5_000,
        45_000,
    )


def test_a_cancellation_publishes_the_refund_and_tells_both_parties_once() -> None:
    contract = active_contract()
    quote = contract.cancel(
        user_id="student-1",
        by=contract.canceller("student-1", admin=False),
        reason="Moving abroad",
        sessions=sessions_of(contract),
        policy=POLICY,
        now=NOW,
    )
    assert quote.refund_amount == 35_000
    assert contract.status is ContractStatus.CANCELLED
    assert (contract.cancelled_by, contract.cancelled_by_role) == ("student-1", Canceller.STUDENT)
    assert (contract.cancellation_reason, contract.cancellation_refund) == ("Moving abroad", 35_000)
    [cancelled] = contract.pull_events()
    assert cancelled == events.ContractCancelled(
        reason="Moving abroad",
        cancelled_at=NOW,
        cancelled_by="student-1",
        refund_amount=35_000,
        role=Canceller.STUDENT,
    )
    told = contract_notifications(contract, [cancelled], NOW)
    assert sorted(n.recipient_id for n in told) == ["coach-1", "student-1"]
    assert {n.kind for n in told} == {NotificationKind.CONTRACT_CANCELLED}
    assert {n.amount for n in told} == {35_000}
    assert "€350.00 goes back to student-1" in told[0].message
    with pytest.raises(ContractAlreadyCancelled):
        contract.cancel(
            user_id="coach-1",
            by=Canceller.COACH,
            reason="again",
            sessions=[],
            policy=POLICY,
            now=NOW,
        )


def test_a_pending_contract_is_withdrawn_by_either_side_for_nothing() -> None:
    contract = pending_contract()
    by = contract.canceller("coach-1", admin=False)
    quote = contract.cancel(
        user_id="coach-1", by=by, reason="Changed plans", sessions=[], policy=POLICY, now=NOW
    )
    assert (by, quote.paid, quote.refund_amount) == (Canceller.COACH, False, 0)
    assert contract.status is ContractStatus.CANCELLED
    [cancelled] = contract.pull_events()
    assert isinstance(cancelled, events.ContractCancelled)
    assert cancelled.refund_amount == 0


def test_only_the_parties_or_an_admin_may_cancel() -> None:
    contract = active_contract()
    with pytest.raises(NotAParty):
        contract.canceller("someone-else", admin=False)
    assert contract.canceller("someone-else", admin=True) is Canceller.ADMIN


def test_a_disputed_contract_or_a_payment_on_its_way_cannot_be_ended() -> None:
    disputed = active_contract()
    dispute(disputed)
    with pytest.raises(ContractDisputed):
        disputed.check_cancellable()
    waiting = pending_contract()
    waiting.mark_payment_processing(payment_id=uuid.uuid4(), processing_at=NOW)
    with pytest.raises(PaymentUnderway):
        waiting.check_cancellable()
    assert not disputed.may_be_cancelled()
    assert not waiting.may_be_cancelled()
    assert active_contract().may_be_cancelled()


def test_a_system_cancellation_tells_no_one_twice() -> None:
    contract = active_contract()
    refund(contract, 50_000, 50_000, fully=True)
    recorded = contract.pull_events()
    kinds = [n.kind for n in contract_notifications(contract, recorded, NOW)]
    assert kinds == [NotificationKind.PAYMENT_REFUNDED]
    assert (contract.cancelled_by, contract.cancellation_refund) == ("system", 0)
