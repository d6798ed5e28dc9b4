"""The invariant checker on hand-built states: a consistent one passes, and each kind of
violation, put into it alone, is caught with the ids involved."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from chaos.checker import State, check

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
CONTRACT = str(uuid.uuid4())
PAYMENT = str(uuid.uuid4())
SUCCEEDED = "evt-succeeded"
ACTIVATED = "evt-activated"
CREATED = "evt-created"


def event(seq: int, event_id: str, name: str, producer: str, **data: str) -> dict:
    return {
        "seq": seq,
        "event_id": event_id,
        "event_type": f"skileez.{producer}.{name}.v1",
        "sent_at": NOW,
        "data": data,
    }


def session(starts_in_hours: int, **overrides: object) -> dict:
    starts = NOW + timedelta(hours=starts_in_hours)
    return {
        "id": str(uuid.uuid4()),
        "contract_id": CONTRACT,
        "coach_id": "coach-1",
        "student_id": "student-1",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=1),
        "status": "scheduled",
        "created_at": NOW - timedelta(minutes=5),
        **overrides,
    }


def consistent() -> State:
    """One contract paid once by card, activated, its coach notified, one session booked."""
    price = {"amount": 18_000, "currency": "eur"}
    return State(
        stripe_sessions=[
            {"id": "cs_1", "payment_status": "paid", "amount_total": 18_000, "currency": "eur"}
        ],
        stripe_charges=[{"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 0}],
        payments=[
            {
                "id": PAYMENT,
                "contract_id": CONTRACT,
                "status": "succeeded",
                "checkout_session_id": "cs_1",
                "payment_intent_id": "pi_1",
                "amount_refunded": 0,
                "dispute_outcome": None,
                **price,
            }
        ],
        payment_contracts=[{"id": CONTRACT, **price}],
        contracts=[{"id": CONTRACT, "status": "active", **price}],
        notifications=[{"source_event_id": SUCCEEDED}],
        scheduling_contracts=[
            {
                "id": CONTRACT,
                "status": "active",
                "session_count": 2,
                "suspended_at": None,
                "reinstated_at": None,
            }
        ],
        sessions=[session(24)],
        outboxes={
            "contracts": [
                event(1, CREATED, "ContractCreated", "contracts", contract_id=CONTRACT),
                event(2, ACTIVATED, "ContractActivated", "contracts", contract_id=CONTRACT),
            ],
            "payments": [
                event(1, SUCCEEDED, "PaymentSucceeded", "payments", payment_id=PAYMENT),
            ],
        },
        inboxes={
            "contracts": [{"consumer": "contracts", "event_id": SUCCEEDED}],
            "payments": [{"consumer": "payments", "event_id": CREATED}],
            "scheduling": [
                {"consumer": "scheduling", "event_id": CREATED},
                {"consumer": "scheduling", "event_id": ACTIVATED},
            ],
            "backoffice": [
                {"consumer": "backoffice", "event_id": event_id}
                for event_id in (CREATED, ACTIVATED, SUCCEEDED)
            ],
        },
        queues={"ns.contracts.q": 0, "ns.contracts.q.dlq": 0},
        now=NOW,
    )


def test_a_consistent_state_has_no_violation() -> None:
    assert check(consistent()) == []


def _payment(state: State) -> dict:
    return state.payments[0]


def second_payment_kept(state: State) -> None:
    state.payments.append(
        {**_payment(state), "id": str(uuid.uuid4()), "checkout_session_id": "cs_2"}
    )


def money_in_an_unknown_session(state: State) -> None:
    state.stripe_sessions.append(
        {"id": "cs_lost", "payment_status": "paid", "amount_total": 18_000, "currency": "eur"}
    )


def payment_unaware_of_money(state: State) -> None:
    _payment(state)["status"] = "expired"
    state.outboxes["payments"] = []
    state.inboxes["contracts"] = []
    state.notifications = []
    state.contracts[0]["status"] = "pending"


def active_without_money(state: State) -> None:
    state.contracts.append(
        {"id": str(uuid.uuid4()), "status": "active", "amount": 1, "currency": "eur"}
    )


def amount_differs_at_stripe(state: State) -> None:
    state.stripe_sessions[0]["amount_total"] = 17_999


def succeeded_never_consumed(state: State) -> None:
    state.inboxes["contracts"] = []


def notified_twice(state: State) -> None:
    state.notifications.append({"source_event_id": SUCCEEDED})


def refund_unknown_to_payments(state: State) -> None:
    state.stripe_charges[0]["amount_refunded"] = 18_000


def dispute_lost_at_stripe_only(state: State) -> None:
    state.stripe_disputes.append({"id": "dp_1", "charge": "ch_1", "status": "lost"})


def refunded_but_still_active(state: State) -> None:
    _payment(state).update(status="refunded", amount_refunded=18_000)
    state.stripe_charges[0]["amount_refunded"] = 18_000


def booked_while_suspended(state: State) -> None:
    state.scheduling_contracts[0]["suspended_at"] = NOW - timedelta(hours=1)


def unsent_outbox_row(state: State) -> None:
    state.outboxes["contracts"][1]["sent_at"] = None


def message_left_in_a_queue(state: State) -> None:
    state.queues["ns.contracts.q"] = 2


def dead_letter(state: State) -> None:
    state.queues["ns.contracts.q.dlq"] = 1


def subscribed_event_unrouted(state: State) -> None:
    state.queues["ns.unrouted.kept"] = 2
    state.kept_messages += [
        {"queue": "ns.unrouted.kept", "type": "skileez.payments.PaymentSucceeded.v1", "id": "e1"},
        {
            "queue": "ns.unrouted.kept",
            "type": "skileez.contracts.ContractPaymentFailed.v1",
            "id": "e2",
        },
    ]


def too_many_sessions(state: State) -> None:
    state.sessions += [session(48), session(72)]


def overlapping_sessions(state: State) -> None:
    state.sessions.append(session(24, contract_id=str(uuid.uuid4()), student_id="student-2"))


def failed_after_success(state: State) -> None:
    state.outboxes["payments"].append(
        event(2, "evt-failed", "PaymentFailed", "payments", payment_id=PAYMENT)
    )
    for consumer in ("contracts", "backoffice"):
        state.inboxes[consumer].append({"consumer": consumer, "event_id": "evt-failed"})


@pytest.mark.parametrize(
    ("breach", "kind", "named"),
    [
        (second_payment_kept, "contract_paid_twice", PAYMENT),
        (money_in_an_unknown_session, "money_without_one_payment", "cs_lost"),
        (payment_unaware_of_money, "money_taken_payment_unaware", PAYMENT),
        (active_without_money, "active_without_money", None),
        (amount_differs_at_stripe, "amount_mismatch", "cs_1"),
        (succeeded_never_consumed, "event_not_consumed_once", SUCCEEDED),
        (notified_twice, "coach_notifications", SUCCEEDED),
        (refund_unknown_to_payments, "refund_total_mismatch", "ch_1"),
        (dispute_lost_at_stripe_only, "dispute_mismatch", "dp_1"),
        (refunded_but_still_active, "not_cancelled", CONTRACT),
        (booked_while_suspended, "booked_while_suspended", CONTRACT),
        (unsent_outbox_row, "unsent_outbox_row", ACTIVATED),
        (message_left_in_a_queue, "unconsumed_events", "ns.contracts.q"),
        (dead_letter, "dead_letters", "ns.contracts.q.dlq"),
        (subscribed_event_unrouted, "unrouted_event", "e1"),
        (too_many_sessions, "too_many_sessions", CONTRACT),
        (overlapping_sessions, "overlapping_sessions", None),
        (failed_after_success, "money_backwards", PAYMENT),
    ],
)
def test_each_kind_of_violation_is_caught_with_its_ids(
    breach: Callable[[State], None], kind: str, named: str | None
) -> None:
    state = consistent()
    breach(state)
    found = [violation for violation in check(state) if violation.kind == kind]
    assert found, check(state)
    if named is not None:
        assert any(named in violation.ids for violation in found), found


def test_a_refunded_contract_keeping_a_future_session_is_caught() -> None:
    state = consistent()
    refunded_but_still_active(state)
    state.contracts[0]["status"] = "cancelled"
    state.scheduling_contracts[0]["status"] = "closed"
    [violation] = check(state)
    assert violation.kind == "future_session_kept"
    assert violation.ids == (CONTRACT, state.sessions[0]["id"])


def test_an_unrouted_event_no_service_subscribes_to_is_kept_by_design() -> None:
    """A type a producer publishes before any consumer subscribes to it (none today: the
    backoffice hears every type there is)."""
    state = consistent()
    state.queues["ns.unrouted.kept"] = 1
    state.kept_messages.append(
        {"queue": "ns.unrouted.kept", "type": "skileez.contracts.ContractRenewed.v1"}
    )
    assert check(state) == []
