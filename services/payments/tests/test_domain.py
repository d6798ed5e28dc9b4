"""The Payment aggregate's guarded transitions and money formatting (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skileez_payments.domain.errors import PaymentNotReady
from skileez_payments.domain.payment import (
    Charge,
    Failed,
    Held,
    Payment,
    PaymentStatus,
    Refunded,
    Succeeded,
)
from skileez_web.money import format_amount

NOW = datetime(2025, 1, 1, tzinfo=UTC)
RIGHT = Charge(amount=5_000, currency="eur", livemode=False)


def payment(**fields: object) -> Payment:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "contract_id": uuid.uuid4(),
        "amount": 5_000,
        "currency": "eur",
        "correlation_id": "corr",
        "expires_at": NOW + timedelta(hours=1),
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Payment(**values)  # type: ignore[arg-type]


def test_paid_once_records_one_succeeded_event() -> None:
    p = payment()
    p.mark_payment_paid(RIGHT, False, NOW)
    p.mark_payment_paid(RIGHT, False, NOW)
    assert p.status is PaymentStatus.SUCCEEDED
    assert p.events == [Succeeded(paid_at=NOW)]


@pytest.mark.parametrize(
    "charge",
    [
        Charge(amount=4_999, currency="eur", livemode=False),
        Charge(amount=5_000, currency="usd", livemode=False),
        Charge(amount=5_000, currency="eur", livemode=True),
        Charge(amount=None, currency=None, livemode=False),
    ],
)
def test_a_mismatch_holds_for_review_with_a_held_event(charge: Charge) -> None:
    p = payment()
    p.mark_payment_paid(charge, False, NOW)
    assert p.status is PaymentStatus.HELD_FOR_REVIEW
    assert p.events == [Held(reason=p.review_reason or "", held_at=NOW)]
    p.mark_payment_paid(RIGHT, False, NOW)
    assert p.status is PaymentStatus.HELD_FOR_REVIEW


def test_no_way_back_from_succeeded() -> None:
    p = payment()
    p.mark_payment_paid(RIGHT, False, NOW)
    p.mark_failed("late", NOW)
    p.mark_expired(NOW)
    p.mark_processing(RIGHT, False, NOW)
    assert p.status is PaymentStatus.SUCCEEDED
    assert len(p.events) == 1


def test_paid_after_expiry_is_held_not_succeeded() -> None:
    p = payment()
    p.mark_expired(NOW)
    p.mark_payment_paid(RIGHT, False, NOW)
    assert p.status is PaymentStatus.HELD_FOR_REVIEW
    assert p.events == [
        Failed(reason="checkout_session_expired", failed_at=NOW),
        Held(reason="paid after the checkout session expired", held_at=NOW),
    ]


def test_refunds_are_cumulative_and_need_a_paid_payment() -> None:
    p = payment()
    with pytest.raises(PaymentNotReady):
        p.record_refunds(100, "re_0", NOW)
    p.mark_payment_paid(RIGHT, False, NOW)
    p.events.clear()
    p.record_refunds(1_000, "re_1", NOW)
    p.record_refunds(500, "re_old", NOW)
    p.record_refunds(5_000, "re_2", NOW)
    assert p.status is PaymentStatus.REFUNDED
    assert p.events == [
        Refunded(1_000, 1_000, False, "re_1", NOW),
        Refunded(4_000, 5_000, True, "re_2", NOW),
    ]
    assert p.refundable_amount == 0


def test_reusable_only_while_open_or_declined_and_not_about_to_expire() -> None:
    p = payment(checkout_url="https://checkout", checkout_session_id="cs_1")
    assert p.is_reusable(NOW, 300)
    assert not p.is_reusable(NOW + timedelta(minutes=56), 300)
    p.mark_failed("card_declined", NOW)
    assert p.is_reusable(NOW, 300)
    p.mark_payment_paid(RIGHT, False, NOW)
    assert not p.is_reusable(NOW, 300)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(12_345, "eur", "€123.45"), (5_000, "jpy", "¥5,000"), (1_500, "kwd", "1.500 KWD")],
)
def test_amounts_are_formatted_for_their_currency(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown
