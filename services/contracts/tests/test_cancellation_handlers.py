"""The session and cancellation handlers against the unit of work in memory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skileez_contracts.domain.cancellation import CancellationPolicy
from skileez_contracts.domain.commands import CancelContract
from skileez_contracts.domain.contract import ContractStatus
from skileez_contracts.domain.errors import ContractAlreadyCancelled, ContractNotFound
from skileez_contracts.service_layer import cancellations, payments, sessions
from skileez_events import ContractCancelled, SessionBooked, SessionCancelled

from .fakes import FakeUnitOfWork
from .test_handlers import pending_contract, succeeded

NOW = datetime.now(UTC)
POLICY = CancellationPolicy()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def news(contract_id: uuid.UUID, starts_in: timedelta, session_id: uuid.UUID) -> dict[str, object]:
    return {
        "session_id": session_id,
        "contract_id": contract_id,
        "starts_at": NOW + starts_in,
        "duration_minutes": 60,
        "by": "coach-1",
        "at": NOW,
    }


async def test_a_cancelled_session_stays_cancelled_whichever_news_came_first(
    uow: FakeUnitOfWork,
) -> None:
    contract = await pending_contract(uow)
    first, second = uuid.uuid4(), uuid.uuid4()
    day, two_days = timedelta(days=1), timedelta(days=2)
    await sessions.record_session_cancelled(
        SessionCancelled.model_validate(news(contract.id, day, first)), uow
    )
    for booked in (news(contract.id, day, first), *[news(contract.id, two_days, second)] * 2):
        await sessions.record_session_booked(SessionBooked.model_validate(booked), uow)
    await sessions.record_session_cancelled(
        SessionCancelled.model_validate(news(contract.id, two_days, second)), uow
    )
    known = await uow.sessions.of_contract(contract.id)
    assert [session.is_cancelled for session in known] == [True, True]


async def test_the_cancellation_is_quoted_on_the_sessions_and_published_once(
    uow: FakeUnitOfWork,
) -> None:
    contract = await pending_contract(uow)
    paid = succeeded(contract)
    await payments.record_payment_succeeded(paid, uow)
    soon = news(contract.id, timedelta(hours=2), uuid.uuid4())
    await sessions.record_session_booked(SessionBooked.model_validate(soon), uow)
    uow.outbox.clear()
    command = CancelContract(contract.id, "student-1", admin=False, reason="Moving")
    ended, quote = await cancellations.cancel_contract(command, uow, policy=POLICY, now=NOW)
    assert (ended.status, quote.sessions_delivered, quote.refund_amount) == (
        ContractStatus.CANCELLED,
        1,
        45_000,
    )
    [published] = uow.outbox
    assert isinstance(published, ContractCancelled)
    assert (published.refund_amount, published.cancelled_by, published.payment_id) == (
        45_000,
        "student-1",
        paid.payment_id,
    )
    assert sorted(n.recipient_id for n in uow.notifications.stored if n.amount == 45_000) == [
        "coach-1",
        "student-1",
    ]
    with pytest.raises(ContractAlreadyCancelled):
        await cancellations.cancel_contract(command, uow, policy=POLICY, now=NOW)
    with pytest.raises(ContractNotFound):
        await cancellations.quote_cancellation(
            uuid.uuid4(),
            uow,
            user_id="student-1",
            admin=False,
            policy=CancellationPolicy(),
            now=NOW,
        )
