"""The aggregates' rules, without I/O."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skileez_contracts.domain import events
from skileez_contracts.domain.contract import Contract, ContractStatus, PaymentStatus
from skileez_contracts.domain.errors import (
    AmountTooLarge,
    InvalidTerms,
    NotAParty,
    PaymentMismatch,
    ProposalNotAccepted,
    ProposalNotOpen,
    SelfProposal,
)
from skileez_contracts.domain.money import MAX_PAYABLE_AMOUNT, total_amount
from skileez_contracts.domain.notifications import NotificationKind, coach_notification
from skileez_contracts.domain.proposal import Proposal, ProposalStatus
from skileez_events.schemas import MAX_AMOUNT
from skileez_web.money import format_amount

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PAYMENT = uuid.uuid4()


def proposal(**overrides: object) -> Proposal:
    fields: dict[str, object] = {
        "coach_id": "coach-1",
        "student_id": "student-1",
        "title": "Ten sessions of chess",
        "description": "Openings and endgames",
        "session_count": 10,
        "price_per_session": 5_000,
        "currency": "eur",
        "now": NOW,
    }
    fields.update(overrides)
    return Proposal.propose(**fields)  # type: ignore[arg-type]


def pending_contract() -> Contract:
    offer = proposal()
    offer.accept("student-1", NOW)
    contract = Contract.from_proposal(offer, student_id="student-1", now=NOW)
    contract.pull_events()
    return contract


def pay(contract: Contract, payment_id: uuid.UUID = PAYMENT, amount: int = 50_000) -> None:
    contract.mark_payment_paid(
        payment_id=payment_id,
        stripe_payment_intent_id="pi_123",
        amount=amount,
        currency="eur",
        paid_at=NOW,
        now=NOW + timedelta(seconds=1),
    )


def fail(contract: Contract) -> None:
    contract.mark_payment_failed(payment_id=uuid.uuid4(), reason="card_declined", failed_at=NOW)


def refund(
    contract: Contract, amount: int, total: int, fully: bool, payment_id: uuid.UUID = PAYMENT
) -> None:
    contract.mark_payment_refunded(
        payment_id=payment_id,
        refund_amount=amount,
        total_refunded=total,
        currency="eur",
        fully_refunded=fully,
        refunded_at=NOW,
    )


def test_the_amount_is_session_count_times_the_coachs_price() -> None:
    contract = pending_contract()
    assert contract.amount == 50_000
    assert (contract.status, contract.payment_status) == ("pending", "pending")
    assert not contract.can_schedule_sessions()


def test_an_amount_past_the_payable_maximum_is_refused() -> None:
    assert total_amount(1, MAX_AMOUNT) == MAX_AMOUNT
    with pytest.raises(AmountTooLarge):
        total_amount(2, MAX_AMOUNT)
    with pytest.raises(AmountTooLarge):
        proposal(session_count=1000, price_per_session=MAX_AMOUNT)


def test_the_largest_payable_amount_is_the_largest_an_event_carries() -> None:
    assert MAX_PAYABLE_AMOUNT == MAX_AMOUNT


def test_no_session_or_a_negative_price_is_not_a_sale() -> None:
    assert total_amount(1, 0) == 0
    with pytest.raises(InvalidTerms) as refused:
        total_amount(0, 5_000)
    assert refused.value.code == "invalid_terms"
    with pytest.raises(InvalidTerms):
        proposal(price_per_session=-1)


def test_the_domain_loads_no_web_database_or_messaging_library() -> None:
    script = (
        "import sys, pkgutil, importlib, skileez_contracts.domain as domain\n"
        "for module in pkgutil.iter_modules(domain.__path__):\n"
        "    importlib.import_module(f'skileez_contracts.domain.{module.name}')\n"
        "print(' '.join(sorted(module for module in sys.modules)))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert "skileez_contracts.domain.contract" in loaded
    assert "skileez_contracts.domain.notifications" in loaded
    for heavy in ("aio_pika", "asyncpg", "sqlalchemy", "aiohttp", "skileez_events"):
        assert heavy not in loaded


def test_a_coach_cannot_propose_to_themselves() -> None:
    with pytest.raises(SelfProposal):
        proposal(student_id="coach-1")


def test_only_the_student_answers_a_proposal_and_only_once() -> None:
    offer = proposal()
    with pytest.raises(NotAParty):
        offer.accept("coach-1", NOW)
    offer.decline("student-1", NOW)
    assert offer.status is ProposalStatus.DECLINED
    with pytest.raises(ProposalNotOpen):
        offer.accept("student-1", NOW)


def test_a_contract_needs_an_accepted_proposal_and_its_own_student() -> None:
    offer = proposal()
    with pytest.raises(ProposalNotAccepted):
        Contract.from_proposal(offer, student_id="student-1", now=NOW)
    offer.accept("student-1", NOW)
    with pytest.raises(NotAParty):
        Contract.from_proposal(offer, student_id="student-2", now=NOW)
    contract = Contract.from_proposal(offer, student_id="student-1", now=NOW)
    assert contract.pull_events() == [events.ContractCreated(created_at=NOW)]
    assert contract.pull_events() == []


def test_mark_payment_paid_activates_once() -> None:
    contract = pending_contract()
    pay(contract)
    assert contract.status is ContractStatus.ACTIVE
    assert contract.payment_status is PaymentStatus.PAID
    assert contract.payment_date == NOW
    assert contract.stripe_payment_intent_id == "pi_123"
    assert contract.can_schedule_sessions()
    assert [type(e) for e in contract.pull_events()] == [events.ContractActivated]
    pay(contract)
    pay(contract, payment_id=uuid.uuid4())
    assert contract.pull_events() == []


def test_a_late_failure_never_undoes_a_paid_contract() -> None:
    contract = pending_contract()
    pay(contract)
    contract.pull_events()
    fail(contract)
    assert (contract.status, contract.payment_status) == ("active", "paid")
    assert contract.pull_events() == []


def test_a_failed_payment_can_be_followed_by_a_successful_one() -> None:
    contract = pending_contract()
    fail(contract)
    assert (contract.status, contract.payment_status) == ("pending", "failed")
    assert contract.awaits_payment()
    assert [type(e) for e in contract.pull_events()] == [events.ContractPaymentFailed]
    pay(contract)
    assert (contract.status, contract.payment_status) == ("active", "paid")
    assert [type(e) for e in contract.pull_events()] == [events.ContractActivated]


def test_a_delayed_payment_is_processing_until_the_bank_answers_in_any_order() -> None:
    processing, failed_first, other = pending_contract(), pending_contract(), pending_contract()
    processing.mark_payment_processing(payment_id=PAYMENT, processing_at=NOW)
    assert processing.is_payment_processing()
    assert processing.pull_events() == [events.PaymentProcessing(PAYMENT, NOW)]
    pay(processing)
    assert not processing.is_payment_processing()

    # Its failure, before or after its processing news, leaves the contract payable.
    failed_first.mark_payment_failed(
        payment_id=PAYMENT, reason="async_payment_failed", failed_at=NOW
    )
    failed_first.mark_payment_processing(payment_id=PAYMENT, processing_at=NOW)
    assert not failed_first.is_payment_processing()
    assert failed_first.awaits_payment()
    other.mark_payment_processing(payment_id=PAYMENT, processing_at=NOW)
    other.mark_payment_failed(payment_id=PAYMENT, reason="async_payment_failed", failed_at=NOW)
    assert not other.is_payment_processing()

    # Another attempt's failure (an older session expiring) does not end this one's wait.
    other.mark_payment_processing(payment_id=uuid.uuid4(), processing_at=NOW)
    fail(other)
    assert other.is_payment_processing()


def test_a_full_refund_makes_it_refunded_and_cancelled_for_good() -> None:
    contract = pending_contract()
    pay(contract)
    contract.pull_events()
    refund(contract, 50_000, 50_000, fully=True)
    assert (contract.status, contract.payment_status) == ("cancelled", "refunded")
    assert [type(e) for e in contract.pull_events()] == [
        events.ContractRefunded,
        events.ContractCancelled,
    ]
    pay(contract)
    fail(contract)
    refund(contract, 50_000, 50_000, fully=True)
    assert (contract.status, contract.payment_status) == ("cancelled", "refunded")
    assert contract.pull_events() == []


def test_a_partial_refund_keeps_the_contract_active() -> None:
    contract = pending_contract()
    pay(contract)
    contract.pull_events()
    refund(contract, 10_000, 10_000, fully=False)
    assert (contract.status, contract.payment_status) == ("active", "paid")
    assert [type(e) for e in contract.pull_events()] == [events.ContractRefunded]


def test_a_refund_of_a_duplicate_payment_leaves_the_contract_paid_by_the_other() -> None:
    contract = pending_contract()
    pay(contract)
    contract.pull_events()
    duplicate = uuid.uuid4()
    refund(contract, 10_000, 10_000, fully=False, payment_id=duplicate)
    refund(contract, 50_000, 50_000, fully=True, payment_id=duplicate)
    assert (contract.status, contract.payment_status) == ("active", "paid")
    assert contract.payment_id == PAYMENT
    assert contract.can_schedule_sessions()
    assert contract.pull_events() == []
    refund(contract, 50_000, 50_000, fully=True)
    assert (contract.status, contract.payment_status) == ("cancelled", "refunded")


def test_a_refund_before_any_payment_waits_and_never_cancels_a_payable_contract() -> None:
    contract = pending_contract()
    assert contract.awaits_success_of(PAYMENT)
    refund(contract, 50_000, 50_000, fully=True)
    assert (contract.status, contract.payment_status) == ("pending", "pending")
    assert contract.awaits_payment()
    assert contract.pull_events() == []
    pay(contract)
    assert not contract.awaits_success_of(PAYMENT)
    assert not contract.awaits_success_of(uuid.uuid4())
    refund(contract, 50_000, 50_000, fully=True)
    assert (contract.status, contract.payment_status) == ("cancelled", "refunded")


def dispute(contract: Contract, payment_id: uuid.UUID = PAYMENT, dispute_id: str = "dp_1") -> None:
    contract.mark_payment_disputed(
        payment_id=payment_id,
        dispute_id=dispute_id,
        amount=50_000,
        currency="eur",
        reason="fraudulent",
        disputed_at=NOW,
    )


def close(
    contract: Contract, won: bool, payment_id: uuid.UUID = PAYMENT, dispute_id: str = "dp_1"
) -> None:
    contract.close_dispute(payment_id=payment_id, dispute_id=dispute_id, won=won, closed_at=NOW)


def active_contract() -> Contract:
    contract = pending_contract()
    pay(contract)
    contract.pull_events()
    return contract


def test_a_dispute_suspends_an_active_contract_once() -> None:
    contract = active_contract()
    dispute(contract)
    assert (contract.status, contract.payment_status) == ("suspended", "disputed")
    assert (contract.stripe_dispute_id, contract.dispute_status) == ("dp_1", "open")
    assert contract.is_suspended()
    assert not contract.can_schedule_sessions()
    assert not contract.awaits_payment()
    assert contract.pull_events() == [
        events.ContractSuspended(
            dispute_id="dp_1", disputed_amount=50_000, reason="fraudulent", suspended_at=NOW
        )
    ]
    dispute(contract)
    pay(contract)
    fail(contract)
    assert (contract.status, contract.payment_status) == ("suspended", "disputed")
    assert contract.pull_events() == []


def test_a_won_dispute_reinstates_and_a_lost_one_cancels_for_good() -> None:
    won = active_contract()
    dispute(won)
    won.pull_events()
    close(won, won=True)
    assert (won.status, won.payment_status, won.dispute_status) == ("active", "paid", "won")
    assert won.can_schedule_sessions()
    assert [type(e) for e in won.pull_events()] == [
        events.DisputeWon,
        events.ContractReinstated,
    ]
    close(won, won=False)
    close(won, won=True)
    dispute(won)
    assert (won.status, won.payment_status) == ("active", "paid")
    assert won.pull_events() == []

    lost = active_contract()
    dispute(lost)
    lost.pull_events()
    close(lost, won=False)
    assert (lost.status, lost.payment_status, lost.dispute_status) == (
        "cancelled",
        "refunded",
        "lost",
    )
    [told, cancelled] = lost.pull_events()
    assert told == events.DisputeLost(dispute_id="dp_1", closed_at=NOW)
    assert isinstance(cancelled, events.ContractCancelled)
    assert "dp_1" in cancelled.reason
    assert "lost" in cancelled.reason
    assert (cancelled.cancelled_by, cancelled.refund_amount) == ("system", 0)
    close(lost, won=True)
    dispute(lost)
    pay(lost)
    assert (lost.status, lost.payment_status) == ("cancelled", "refunded")
    assert lost.pull_events() == []


def test_a_closure_seen_before_its_dispute_ends_in_the_right_state() -> None:
    won = active_contract()
    close(won, won=True)
    assert [type(e) for e in won.pull_events()] == [events.DisputeWon]
    dispute(won)
    assert (won.status, won.payment_status) == ("active", "paid")
    assert won.pull_events() == []

    lost = active_contract()
    close(lost, won=False)
    dispute(lost)
    assert (lost.status, lost.payment_status) == ("cancelled", "refunded")
    assert [type(e) for e in lost.pull_events()] == [
        events.DisputeLost,
        events.ContractCancelled,
    ]


def test_a_dispute_of_another_payment_or_of_a_cancelled_contract_changes_nothing() -> None:
    contract = active_contract()
    other = uuid.uuid4()
    dispute(contract, payment_id=other)
    close(contract, won=False, payment_id=other)
    assert (contract.status, contract.payment_status) == ("active", "paid")
    assert contract.stripe_dispute_id is None

    refund(contract, 50_000, 50_000, fully=True)
    contract.pull_events()
    dispute(contract)
    close(contract, won=False)
    close(contract, won=True)
    assert (contract.status, contract.payment_status) == ("cancelled", "refunded")
    assert contract.pull_events() == []

    pending = pending_contract()
    dispute(pending)
    close(pending, won=False)
    assert (pending.status, pending.payment_status) == ("pending", "pending")


def test_the_coach_is_told_of_a_dispute_and_how_it_closed() -> None:
    contract = active_contract()
    dispute(contract)
    close(contract, won=True)
    dispute(contract, dispute_id="dp_2")
    told = [coach_notification(contract, event, NOW) for event in contract.pull_events()]
    suspended, won, reinstated = told
    assert reinstated is None
    assert suspended is not None
    assert won is not None
    assert suspended.kind is NotificationKind.PAYMENT_DISPUTED
    assert won.kind is NotificationKind.DISPUTE_WON
    for part in ("student-1", "€500.00", "sessions)", "fraudulent", "suspended"):
        assert part in suspended.message
    assert "active" in won.message

    lost = active_contract()
    close(lost, won=False)
    notes = [coach_notification(lost, event, NOW) for event in lost.pull_events()]
    assert notes[1] is None
    assert notes[0] is not None
    assert notes[0].kind is NotificationKind.DISPUTE_LOST
    assert "€500.00" in notes[0].message
    assert "cancelled" in notes[0].message


def test_a_payment_of_another_amount_or_currency_is_refused() -> None:
    contract = pending_contract()
    with pytest.raises(PaymentMismatch):
        pay(contract, amount=1)
    with pytest.raises(PaymentMismatch):
        contract.mark_payment_paid(
            payment_id=PAYMENT,
            stripe_payment_intent_id="pi",
            amount=50_000,
            currency="usd",
            paid_at=NOW,
            now=NOW,
        )
    assert contract.payment_status is PaymentStatus.PENDING


def test_the_coach_is_told_who_paid_what_for_which_contract() -> None:
    contract = pending_contract()
    pay(contract)
    [activated] = contract.pull_events()
    notification = coach_notification(contract, activated, NOW)
    assert notification is not None
    assert notification.recipient_id == "coach-1"
    assert notification.kind is NotificationKind.PAYMENT_RECEIVED
    assert notification.amount == 50_000
    for part in ("student-1", "€500.00", "Ten sessions of chess (10 sessions)"):
        assert part in notification.message
    assert coach_notification(contract, events.ContractCreated(created_at=NOW), NOW) is None


def test_amounts_are_shown_in_the_currencys_own_unit() -> None:
    assert format_amount(12_345, "eur") == "€123.45"
    assert format_amount(5, "usd") == "$0.05"
    assert format_amount(5_000, "jpy") == "¥5,000"
    assert format_amount(1_500, "kwd") == "1.500 KWD"
