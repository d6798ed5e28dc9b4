"""Every handler against the unit of work in memory: no database, no broker."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from skileez_contracts.domain.commands import AnswerProposal, CreateContract, MakeProposal
from skileez_contracts.domain.contract import Contract, ContractStatus, PaymentStatus
from skileez_contracts.domain.errors import (
    AmountTooLarge,
    AmountTooPrecise,
    AmountTooSmall,
    ContractExists,
    ContractNotFound,
    NotAParty,
    PaymentMismatch,
    ProposalNotAccepted,
    ProposalNotFound,
    ProposalNotOpen,
    SelfProposal,
    UnsupportedCurrency,
)
from skileez_contracts.domain.notifications import NotificationKind
from skileez_contracts.domain.proposal import Proposal, ProposalStatus
from skileez_contracts.service_layer import contracts, notifications, payments, proposals
from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractPaymentFailed,
    ContractReinstated,
    ContractSuspended,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
)

from .fakes import FakeUnitOfWork

OFFER = MakeProposal(
    coach_id="coach-1",
    student_id="student-1",
    title="Ten sessions of chess",
    description="Openings and endgames",
    session_count=10,
    price_per_session=5_000,
    currency="eur",
)
PAID_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def accepted(uow: FakeUnitOfWork) -> Proposal:
    offer = await proposals.propose(OFFER, uow)
    return await proposals.accept_proposal(AnswerProposal(offer.id, "student-1"), uow)


async def pending_contract(uow: FakeUnitOfWork) -> Contract:
    offer = await accepted(uow)
    contract = await contracts.create_contract(CreateContract(offer.id, "student-1"), uow)
    uow.outbox.clear()
    uow.contract_writes = 0
    return contract


async def stored(uow: FakeUnitOfWork, contract_id: uuid.UUID) -> Contract:
    return await contracts.show_contract(contract_id, uow, viewer="coach-1")


def succeeded(contract: Contract, **overrides: Any) -> PaymentSucceeded:
    fields: dict[str, Any] = {
        "payment_id": uuid.uuid4(),
        "contract_id": contract.id,
        "amount": contract.amount,
        "currency": contract.currency,
        "stripe_checkout_session_id": "cs_test_1",
        "stripe_payment_intent_id": "pi_test_1",
        "paid_at": PAID_AT,
        **overrides,
    }
    return PaymentSucceeded(**fields)


def failed(contract: Contract) -> PaymentFailed:
    return PaymentFailed(
        payment_id=uuid.uuid4(),
        contract_id=contract.id,
        reason="card_declined",
        stripe_checkout_session_id="cs_test_1",
        failed_at=PAID_AT,
    )


def refunded(
    contract: Contract, amount: int, *, fully: bool, of: PaymentSucceeded | None = None
) -> PaymentRefunded:
    """A refund of the payment `of` (of one the contract has not seen yet, without it)."""
    return PaymentRefunded(
        payment_id=uuid.uuid4() if of is None else of.payment_id,
        contract_id=contract.id,
        refund_amount=amount,
        total_refunded=amount,
        currency=contract.currency,
        fully_refunded=fully,
        stripe_refund_id="re_test_1",
        refunded_at=PAID_AT,
    )


def kinds(uow: FakeUnitOfWork) -> list[NotificationKind]:
    return [n.kind for n in uow.notifications.stored]


# --- proposals -------------------------------------------------------------------------------


async def test_a_coach_proposes_an_open_proposal_to_a_student(uow: FakeUnitOfWork) -> None:
    offer = await proposals.propose(OFFER, uow)
    assert offer.status is ProposalStatus.OPEN
    assert offer.amount == 50_000
    assert await proposals.show_proposal(offer.id, uow, viewer="student-1") == offer
    assert await proposals.proposals_of("coach-1", uow, limit=50, offset=0) == [offer]
    assert await proposals.proposals_of("student-1", uow, limit=50, offset=0) == [offer]
    assert await proposals.proposals_of("student-2", uow, limit=50, offset=0) == []


async def test_a_proposal_to_oneself_or_past_the_payable_amount_is_not_stored(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(SelfProposal):
        await proposals.propose(MakeProposal(**{**vars(OFFER), "student_id": "coach-1"}), uow)
    with pytest.raises(AmountTooLarge):
        await proposals.propose(
            MakeProposal(**{**vars(OFFER), "price_per_session": 99_999_999_999}), uow
        )
    assert uow.proposals.stored == {}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"currency": "xyz"}, UnsupportedCurrency),
        ({"session_count": 1, "price_per_session": 49}, AmountTooSmall),
        ({"currency": "gbp", "session_count": 1, "price_per_session": 29}, AmountTooSmall),
        ({"currency": "jpy", "session_count": 1, "price_per_session": 49}, AmountTooSmall),
        ({"price_per_session": 10_000_000}, AmountTooLarge),
        ({"currency": "kwd", "price_per_session": 1_005}, AmountTooPrecise),
    ],
)
async def test_a_price_stripe_would_not_charge_is_not_stored(
    uow: FakeUnitOfWork, change: dict[str, Any], refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await proposals.propose(MakeProposal(**{**vars(OFFER), **change}), uow)
    assert uow.proposals.stored == {}


@pytest.mark.parametrize(
    ("currency", "price", "total"), [("jpy", 5_000, 50_000), ("kwd", 1_250, 12_500)]
)
async def test_a_coach_proposes_in_a_zero_or_three_decimal_currency(
    uow: FakeUnitOfWork, currency: str, price: int, total: int
) -> None:
    offer = await proposals.propose(
        MakeProposal(**{**vars(OFFER), "currency": currency, "price_per_session": price}), uow
    )
    assert (offer.amount, offer.currency) == (total, currency)
    assert list(uow.proposals.stored) == [offer.id]


async def test_only_the_parties_see_a_proposal(uow: FakeUnitOfWork) -> None:
    offer = await proposals.propose(OFFER, uow)
    with pytest.raises(NotAParty):
        await proposals.show_proposal(offer.id, uow, viewer="student-2")
    with pytest.raises(ProposalNotFound):
        await proposals.show_proposal(uuid.uuid4(), uow, viewer="student-1")


async def test_the_student_accepts_an_open_proposal_once(uow: FakeUnitOfWork) -> None:
    offer = await proposals.propose(OFFER, uow)
    answer = AnswerProposal(offer.id, "student-1")
    taken = await proposals.accept_proposal(answer, uow)
    assert taken.status is ProposalStatus.ACCEPTED
    assert uow.proposals.stored[offer.id].status is ProposalStatus.ACCEPTED
    with pytest.raises(ProposalNotOpen):
        await proposals.decline_proposal(answer, uow)
    assert uow.proposals.stored[offer.id].status is ProposalStatus.ACCEPTED


async def test_the_student_declines_and_nobody_else_answers(uow: FakeUnitOfWork) -> None:
    offer = await proposals.propose(OFFER, uow)
    with pytest.raises(NotAParty):
        await proposals.accept_proposal(AnswerProposal(offer.id, "coach-1"), uow)
    assert uow.proposals.stored[offer.id].status is ProposalStatus.OPEN
    declined = await proposals.decline_proposal(AnswerProposal(offer.id, "student-1"), uow)
    assert declined.status is ProposalStatus.DECLINED
    assert uow.proposals.stored[offer.id].decided_at is not None
    with pytest.raises(ProposalNotFound):
        await proposals.accept_proposal(AnswerProposal(uuid.uuid4(), "student-1"), uow)


# --- contracts -------------------------------------------------------------------------------


async def test_the_student_takes_the_contract_and_contract_created_goes_out(
    uow: FakeUnitOfWork,
) -> None:
    offer = await accepted(uow)
    contract = await contracts.create_contract(CreateContract(offer.id, "student-1"), uow)
    assert (contract.amount, contract.currency) == (50_000, "eur")
    assert (contract.status, contract.payment_status) == ("pending", "pending")
    assert uow.contracts.stored[contract.id] == contract
    [created] = uow.outbox
    assert isinstance(created, ContractCreated)
    assert (created.contract_id, created.proposal_id) == (contract.id, offer.id)
    assert (created.amount, created.session_count) == (50_000, 10)
    assert uow.notifications.stored == []


async def test_a_second_contract_for_one_proposal_names_the_first(uow: FakeUnitOfWork) -> None:
    offer = await accepted(uow)
    first = await contracts.create_contract(CreateContract(offer.id, "student-1"), uow)
    with pytest.raises(ContractExists) as refused:
        await contracts.create_contract(CreateContract(offer.id, "student-1"), uow)
    assert refused.value.fields == {
        "contract_id": str(first.id),
        "contract_url": f"/contracts/{first.id}",
    }
    assert list(uow.contracts.stored) == [first.id]
    assert len(uow.outbox) == 1


async def test_a_contract_needs_an_accepted_proposal_and_its_own_student(
    uow: FakeUnitOfWork,
) -> None:
    offer = await proposals.propose(OFFER, uow)
    with pytest.raises(ProposalNotAccepted):
        await contracts.create_contract(CreateContract(offer.id, "student-1"), uow)
    await proposals.accept_proposal(AnswerProposal(offer.id, "student-1"), uow)
    with pytest.raises(NotAParty):
        await contracts.create_contract(CreateContract(offer.id, "student-2"), uow)
    with pytest.raises(ProposalNotFound):
        await contracts.create_contract(CreateContract(uuid.uuid4(), "student-1"), uow)
    assert uow.contracts.stored == {}
    assert uow.outbox == []


async def test_only_the_parties_see_a_contract(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    assert await contracts.show_contract(contract.id, uow, viewer="student-1") == contract
    assert await contracts.contracts_of("coach-1", uow, limit=50, offset=0) == [contract]
    assert await contracts.contracts_of("student-2", uow, limit=50, offset=0) == []
    with pytest.raises(NotAParty):
        await contracts.show_contract(contract.id, uow, viewer="student-2")
    with pytest.raises(ContractNotFound):
        await contracts.show_contract(uuid.uuid4(), uow, viewer="student-1")


# --- payments --------------------------------------------------------------------------------


async def test_a_payment_activates_the_contract_and_tells_the_coach(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_succeeded(payment, uow)
    paid = await stored(uow, contract.id)
    assert (paid.status, paid.payment_status) == (ContractStatus.ACTIVE, PaymentStatus.PAID)
    assert (paid.payment_id, paid.payment_date) == (payment.payment_id, PAID_AT)
    assert paid.stripe_payment_intent_id == "pi_test_1"
    [activated] = uow.outbox
    assert isinstance(activated, ContractActivated)
    assert (activated.contract_id, activated.payment_id) == (contract.id, payment.payment_id)
    [told] = uow.notifications.stored
    assert (told.recipient_id, told.kind, told.amount) == (
        "coach-1",
        NotificationKind.PAYMENT_RECEIVED,
        50_000,
    )
    assert await notifications.notifications_of("coach-1", uow, limit=50, offset=0) == [told]
    assert await notifications.notifications_of("student-1", uow, limit=50, offset=0) == []


async def test_a_duplicate_or_second_payment_changes_nothing(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_succeeded(payment, uow)
    await payments.record_payment_succeeded(payment, uow)
    await payments.record_payment_succeeded(succeeded(contract), uow)
    assert (await stored(uow, contract.id)).payment_id == payment.payment_id
    assert len(uow.outbox) == len(uow.notifications.stored) == uow.contract_writes == 1


async def test_a_payment_of_another_amount_or_currency_is_never_applied(
    uow: FakeUnitOfWork,
) -> None:
    contract = await pending_contract(uow)
    with pytest.raises(PaymentMismatch):
        await payments.record_payment_succeeded(succeeded(contract, amount=1), uow)
    with pytest.raises(PaymentMismatch):
        await payments.record_payment_succeeded(succeeded(contract, currency="usd"), uow)
    assert (await stored(uow, contract.id)).payment_status is PaymentStatus.PENDING
    assert uow.outbox == []
    assert uow.notifications.stored == []


async def test_an_event_about_an_unknown_contract_is_refused(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    unknown = replace(contract, id=uuid.uuid4())
    with pytest.raises(ContractNotFound):
        await payments.record_payment_succeeded(succeeded(unknown), uow)
    with pytest.raises(ContractNotFound):
        await payments.record_payment_failed(failed(unknown), uow)
    with pytest.raises(ContractNotFound):
        await payments.record_payment_refunded(refunded(unknown, 1, fully=False), uow)


async def test_a_failure_is_recorded_and_the_student_may_pay_again(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    failure = failed(contract)
    await payments.record_payment_failed(failure, uow)
    assert (await stored(uow, contract.id)).payment_status is PaymentStatus.FAILED
    [published] = uow.outbox
    assert isinstance(published, ContractPaymentFailed)
    assert (published.payment_id, published.reason) == (failure.payment_id, "card_declined")
    assert kinds(uow) == [NotificationKind.PAYMENT_FAILED]
    await payments.record_payment_succeeded(succeeded(contract), uow)
    assert (await stored(uow, contract.id)).status is ContractStatus.ACTIVE


async def test_a_late_failure_never_undoes_a_payment(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    await payments.record_payment_succeeded(succeeded(contract), uow)
    await payments.record_payment_failed(failed(contract), uow)
    paid = await stored(uow, contract.id)
    assert (paid.status, paid.payment_status) == (ContractStatus.ACTIVE, PaymentStatus.PAID)
    assert [type(e) for e in uow.outbox] == [ContractActivated]
    assert kinds(uow) == [NotificationKind.PAYMENT_RECEIVED]
    assert uow.contract_writes == 1


async def test_a_full_refund_cancels_the_contract_for_good(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_succeeded(payment, uow)
    refund = refunded(contract, 50_000, fully=True, of=payment)
    await payments.record_payment_refunded(refund, uow)
    await payments.record_payment_refunded(refund, uow)
    cancelled = await stored(uow, contract.id)
    assert (cancelled.status, cancelled.payment_status) == ("cancelled", "refunded")
    assert [type(e) for e in uow.outbox] == [ContractActivated, ContractCancelled]
    assert kinds(uow) == [NotificationKind.PAYMENT_RECEIVED, NotificationKind.PAYMENT_REFUNDED]
    assert "€500.00" in uow.notifications.stored[-1].message


async def test_a_partial_refund_only_tells_the_coach(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_succeeded(payment, uow)
    await payments.record_payment_refunded(refunded(contract, 10_000, fully=False, of=payment), uow)
    still = await stored(uow, contract.id)
    assert (still.status, still.payment_status) == (ContractStatus.ACTIVE, PaymentStatus.PAID)
    assert [type(e) for e in uow.outbox] == [ContractActivated]
    assert kinds(uow) == [NotificationKind.PAYMENT_RECEIVED, NotificationKind.PAYMENT_REFUNDED]
    assert uow.notifications.stored[-1].amount == 10_000


async def test_a_refund_of_a_duplicate_payment_leaves_the_contract_active_and_paid(
    uow: FakeUnitOfWork,
) -> None:
    """Paid twice: the refund of the second payment is not about the contract, which the first
    still pays; the coach, who never had the second payment, is not told of it."""
    contract = await pending_contract(uow)
    first, duplicate = succeeded(contract), succeeded(contract, stripe_payment_intent_id="pi_2")
    await payments.record_payment_succeeded(first, uow)
    await payments.record_payment_succeeded(duplicate, uow)
    await payments.record_payment_refunded(
        refunded(contract, 50_000, fully=True, of=duplicate), uow
    )
    still = await stored(uow, contract.id)
    assert (still.status, still.payment_status) == (ContractStatus.ACTIVE, PaymentStatus.PAID)
    assert (still.payment_id, still.stripe_payment_intent_id) == (first.payment_id, "pi_test_1")
    assert [type(e) for e in uow.outbox] == [ContractActivated]
    assert kinds(uow) == [NotificationKind.PAYMENT_RECEIVED]
    assert uow.contract_writes == 1

    await payments.record_payment_refunded(refunded(contract, 50_000, fully=True, of=first), uow)
    cancelled = await stored(uow, contract.id)
    assert (cancelled.status, cancelled.payment_status) == ("cancelled", "refunded")


async def test_a_refund_seen_before_its_payment_waits_and_then_cancels(
    uow: FakeUnitOfWork,
) -> None:
    """Refund, then the success of the payment it refunds (their queues differ): the refund waits
    for the success, then applies; the contract ends refunded and cancelled as before."""
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    refund = refunded(contract, 50_000, fully=True, of=payment)
    await payments.record_payment_refunded(refund, uow)
    waiting = await stored(uow, contract.id)
    assert (waiting.status, waiting.payment_status) == ("pending", "pending")
    assert uow.waiting_events.stored == [refund]
    assert uow.outbox == []

    await payments.record_payment_succeeded(payment, uow)
    await payments.record_payment_failed(failed(contract), uow)
    cancelled = await stored(uow, contract.id)
    assert (cancelled.status, cancelled.payment_status) == ("cancelled", "refunded")
    assert [type(e) for e in uow.outbox] == [ContractActivated, ContractCancelled]
    assert kinds(uow) == [NotificationKind.PAYMENT_RECEIVED, NotificationKind.PAYMENT_REFUNDED]
    assert uow.waiting_events.stored == []

    await payments.record_payment_succeeded(payment, uow)
    assert (await stored(uow, contract.id)).status is ContractStatus.CANCELLED
    assert len(uow.outbox) == 2


async def test_a_refund_of_a_payment_that_never_succeeded_leaves_the_contract_payable(
    uow: FakeUnitOfWork,
) -> None:
    """A held payment refunded at review never succeeded: the pending contract stays payable,
    and the student's next payment activates it."""
    contract = await pending_contract(uow)
    held = refunded(contract, 50_000, fully=True)
    await payments.record_payment_refunded(held, uow)
    await payments.record_payment_refunded(held, uow)
    still = await stored(uow, contract.id)
    assert (still.status, still.payment_status) == ("pending", "pending")
    assert still.awaits_payment()
    assert (uow.outbox, uow.notifications.stored, uow.contract_writes) == ([], [], 0)

    await payments.record_payment_succeeded(succeeded(contract), uow)
    paid = await stored(uow, contract.id)
    assert (paid.status, paid.payment_status) == ("active", "paid")
    assert [type(e) for e in uow.outbox] == [ContractActivated]
    assert uow.waiting_events.stored == [held, held]


# --- disputes --------------------------------------------------------------------------------


def disputed(payment: PaymentSucceeded, dispute_id: str = "dp_1") -> PaymentDisputed:
    return PaymentDisputed(
        payment_id=payment.payment_id,
        contract_id=payment.contract_id,
        stripe_dispute_id=dispute_id,
        amount=payment.amount,
        currency=payment.currency,
        reason="fraudulent",
        disputed_at=PAID_AT,
    )


def dispute_closed(
    payment: PaymentSucceeded, outcome: str, dispute_id: str = "dp_1"
) -> PaymentDisputeClosed:
    return PaymentDisputeClosed(
        payment_id=payment.payment_id,
        contract_id=payment.contract_id,
        stripe_dispute_id=dispute_id,
        outcome=outcome,
        closed_at=PAID_AT,
    )


async def paid_contract(uow: FakeUnitOfWork) -> tuple[Contract, PaymentSucceeded]:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_succeeded(payment, uow)
    uow.outbox.clear()
    uow.notifications.stored.clear()
    return contract, payment


async def test_a_dispute_suspends_and_a_won_one_reinstates(uow: FakeUnitOfWork) -> None:
    contract, payment = await paid_contract(uow)
    await payments.record_payment_disputed(disputed(payment), uow)
    await payments.record_payment_disputed(disputed(payment), uow)
    suspended = await stored(uow, contract.id)
    assert (suspended.status, suspended.payment_status) == ("suspended", "disputed")
    assert not suspended.can_schedule_sessions()
    [published] = uow.outbox
    assert isinstance(published, ContractSuspended)
    assert published.contract_id == contract.id
    assert "fraudulent" in published.reason
    [told] = uow.notifications.stored
    assert (told.kind, told.recipient_id, told.amount) == ("payment_disputed", "coach-1", 50_000)
    assert "€500.00" in told.message

    await payments.record_payment_dispute_closed(dispute_closed(payment, "won"), uow)
    await payments.record_payment_dispute_closed(dispute_closed(payment, "won"), uow)
    await payments.record_payment_dispute_closed(dispute_closed(payment, "lost"), uow)
    active = await stored(uow, contract.id)
    assert (active.status, active.payment_status) == ("active", "paid")
    assert active.can_schedule_sessions()
    assert [type(e) for e in uow.outbox] == [ContractSuspended, ContractReinstated]
    assert kinds(uow) == [NotificationKind.PAYMENT_DISPUTED, NotificationKind.DISPUTE_WON]


async def test_a_lost_dispute_cancels_with_nothing_left_to_refund(uow: FakeUnitOfWork) -> None:
    contract, payment = await paid_contract(uow)
    await payments.record_payment_disputed(disputed(payment), uow)
    await payments.record_payment_dispute_closed(dispute_closed(payment, "lost"), uow)
    await payments.record_payment_dispute_closed(dispute_closed(payment, "won"), uow)
    await payments.record_payment_succeeded(payment, uow)
    cancelled = await stored(uow, contract.id)
    assert (cancelled.status, cancelled.payment_status) == ("cancelled", "refunded")
    suspension, cancellation = uow.outbox
    assert isinstance(suspension, ContractSuspended)
    assert isinstance(cancellation, ContractCancelled)
    assert (cancellation.cancelled_by, cancellation.refund_amount) == ("system", 0)
    assert "dispute dp_1 lost" in cancellation.reason
    assert kinds(uow) == [NotificationKind.PAYMENT_DISPUTED, NotificationKind.DISPUTE_LOST]


@pytest.mark.parametrize("outcome", ["won", "lost"])
async def test_a_closure_seen_before_its_dispute_ends_in_the_right_state(
    uow: FakeUnitOfWork, outcome: str
) -> None:
    contract, payment = await paid_contract(uow)
    await payments.record_payment_dispute_closed(dispute_closed(payment, outcome), uow)
    await payments.record_payment_disputed(disputed(payment), uow)
    seen = await stored(uow, contract.id)
    expected = ("active", "paid") if outcome == "won" else ("cancelled", "refunded")
    assert (seen.status, seen.payment_status) == expected
    assert [type(e) for e in uow.outbox] == ([] if outcome == "won" else [ContractCancelled])


async def test_a_dispute_of_another_payment_changes_nothing(uow: FakeUnitOfWork) -> None:
    contract, _payment = await paid_contract(uow)
    duplicate = succeeded(contract, stripe_payment_intent_id="pi_2")
    await payments.record_payment_succeeded(duplicate, uow)
    await payments.record_payment_disputed(disputed(duplicate), uow)
    await payments.record_payment_dispute_closed(dispute_closed(duplicate, "lost"), uow)
    seen = await stored(uow, contract.id)
    assert (seen.status, seen.payment_status) == ("active", "paid")
    assert (uow.outbox, uow.notifications.stored) == ([], [])


async def test_a_dispute_seen_before_its_payment_waits_for_it(uow: FakeUnitOfWork) -> None:
    contract = await pending_contract(uow)
    payment = succeeded(contract)
    await payments.record_payment_disputed(disputed(payment), uow)
    assert (await stored(uow, contract.id)).status is ContractStatus.PENDING
    await payments.record_payment_succeeded(payment, uow)
    seen = await stored(uow, contract.id)
    assert (seen.status, seen.payment_status) == ("suspended", "disputed")
    assert [type(e) for e in uow.outbox] == [ContractActivated, ContractSuspended]


async def test_names_travel_from_the_tokens_to_the_contract_and_its_event(
    uow: FakeUnitOfWork,
) -> None:
    offer = await proposals.propose(replace(OFFER, coach_name="Coach Rui"), uow)
    answer = AnswerProposal(offer.id, "student-1", student_name="Ana Silva")
    accepted_offer = await proposals.accept_proposal(answer, uow)
    assert (accepted_offer.coach_name, accepted_offer.student_name) == ("Coach Rui", "Ana Silva")
    taken = CreateContract(offer.id, "student-1", student_name="Ana S.")
    contract = await contracts.create_contract(taken, uow)
    assert (contract.student_display, contract.coach_display) == ("Ana S.", "Coach Rui")
    [created] = uow.outbox
    assert isinstance(created, ContractCreated)
    assert (created.student_name, created.coach_name) == ("Ana S.", "Coach Rui")


async def test_reading_notifications_marks_them_read_but_returns_them_as_they_were(
    uow: FakeUnitOfWork,
) -> None:
    contract = await pending_contract(uow)
    await payments.record_payment_succeeded(succeeded(contract), uow)
    [shown] = await notifications.read_notifications("coach-1", uow, limit=10, offset=0)
    assert shown.read_at is None
    [again] = await notifications.read_notifications("coach-1", uow, limit=10, offset=0)
    assert again.read_at is not None
    assert await notifications.read_notifications("student-1", uow, limit=10, offset=0) == []
