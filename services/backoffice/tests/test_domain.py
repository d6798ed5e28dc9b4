"""The views merge facts: every order, and every repeat, of a payment's or a contract's events
gives the same view."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from skileez_backoffice.domain.contracts import ContractStatus, ContractView
from skileez_backoffice.domain.errors import InvalidReportPeriod
from skileez_backoffice.domain.payments import PaymentStatus, PaymentView
from skileez_backoffice.domain.reports import Period, RevenueLine, totals_by_currency

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


PaymentChange = Callable[[PaymentView], None]

DISPUTE_LOST: list[PaymentChange] = [
    lambda p: p.succeeded(18000, "eur", "cs_1", "pi_1", later(0)),
    lambda p: p.refunded(4500, False, later(10)),
    lambda p: p.refunded(7500, False, later(20)),
    lambda p: p.disputed(later(30)),
    lambda p: p.dispute_closed("lost", later(40)),
]
HELD_THEN_REFUNDED: list[PaymentChange] = [
    lambda p: p.held(9000, "eur", "amount_mismatch", later(0)),
    lambda p: p.refunded(3000, False, later(5)),
    lambda p: p.refunded(9000, True, later(10)),
]
DELAYED_THEN_FAILED: list[PaymentChange] = [
    lambda p: p.processing(5000, "eur", "cs_2", later(0)),
    lambda p: p.failed("insufficient_funds", "cs_2", later(60)),
]
DISPUTE_WON: list[PaymentChange] = [
    lambda p: p.succeeded(12000, "jpy", "cs_3", "pi_3", later(0)),
    lambda p: p.disputed(later(30)),
    lambda p: p.dispute_closed("won", later(40)),
]


def payment_after(changes: tuple[PaymentChange, ...]) -> PaymentView:
    payment = PaymentView(uuid.UUID(int=1), uuid.UUID(int=2), first_seen_at=later(1000))
    for change in changes:
        change(payment)
    return payment


@pytest.mark.parametrize(
    ("story", "status"),
    [
        (DISPUTE_LOST, PaymentStatus.REFUNDED),
        (HELD_THEN_REFUNDED, PaymentStatus.REFUNDED),
        (DELAYED_THEN_FAILED, PaymentStatus.FAILED),
        (DISPUTE_WON, PaymentStatus.SUCCEEDED),
    ],
)
def test_every_order_and_repeat_of_a_payments_events_gives_one_view(
    story: list[PaymentChange], status: PaymentStatus
) -> None:
    in_order = payment_after(tuple(story))
    assert in_order.status is status
    for order in itertools.permutations(story):
        assert payment_after(order) == in_order
        assert payment_after(order + order) == in_order


def test_a_payment_shows_each_state_its_facts_reach() -> None:
    steps = [payment_after(tuple(DISPUTE_LOST[:n])).status for n in range(1, 6)]
    assert steps == [
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.DISPUTED,
        PaymentStatus.REFUNDED,
    ]
    held = payment_after(tuple(HELD_THEN_REFUNDED[:2]))
    assert held.status is PaymentStatus.HELD_FOR_REVIEW  # partly refunded, a person decides
    assert payment_after(tuple(DELAYED_THEN_FAILED[:1])).status is PaymentStatus.PROCESSING


ContractChange = Callable[[ContractView], None]

TERMS = {"student_id": "s", "coach_id": "c", "session_count": 2, "amount": 100, "currency": "eur"}
CONTRACT_STORY: list[ContractChange] = [
    lambda c: c.created(
        proposal_id=uuid.UUID(int=3),
        student_name=None,
        coach_name="Bo",
        title="Chess",
        created_at=later(0),
        **TERMS,  # type: ignore[arg-type]
    ),
    lambda c: c.activated(payment_id=uuid.UUID(int=4), activated_at=later(10), **TERMS),  # type: ignore[arg-type]
    lambda c: c.suspended("disputed", later(20)),
    lambda c: c.reinstated(later(30)),
    lambda c: c.suspended("disputed again", later(40)),
]


def contract_after(changes: tuple[ContractChange, ...]) -> ContractView:
    contract = ContractView(uuid.UUID(int=5))
    for change in changes:
        change(contract)
    return contract


def test_every_order_of_a_contracts_events_gives_one_view() -> None:
    in_order = contract_after(tuple(CONTRACT_STORY))
    assert (in_order.status, in_order.suspension_reason) == (
        ContractStatus.SUSPENDED,
        "disputed again",
    )
    for order in itertools.permutations(CONTRACT_STORY):
        assert contract_after(order) == in_order


def test_a_cancelled_contract_stays_cancelled_and_the_first_cancellation_decides() -> None:
    contract = contract_after(tuple(CONTRACT_STORY[:2]))
    contract.cancelled("refunded", "system", 0, later(50))
    contract.cancelled("student asked", "student-1", 50, later(45))
    contract.reinstated(later(60))
    assert contract.status is ContractStatus.CANCELLED
    assert (contract.cancellation_reason, contract.cancelled_by) == ("student asked", "student-1")


def test_totals_never_add_currencies_together() -> None:
    lines = [
        RevenueLine("2026-11-02", "eur", 100, 10, 0, 1),
        RevenueLine("2026-11-02", "jpy", 500, 0, 0, 1),
        RevenueLine("2026-11-03", "eur", 50, 0, 20, 1),
    ]
    assert [
        (t.currency, t.gross, t.refunded, t.disputed, t.net, t.count)
        for t in totals_by_currency(lines)
    ] == [
        ("eur", 150, 10, 20, 120, 2),
        ("jpy", 500, 0, 0, 500, 1),
    ]


def test_a_period_must_run_forwards_and_stay_bounded() -> None:
    with pytest.raises(InvalidReportPeriod):
        Period(T0.date(), T0.date() - timedelta(days=1))
    with pytest.raises(InvalidReportPeriod):
        Period(T0.date(), T0.date() + timedelta(days=3660))
    assert Period(T0.date(), T0.date()).ends_before == T0.replace(hour=0) + timedelta(days=1)
