"""Stripe's currency rules, checked when a coach proposes: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skileez_contracts.domain.currencies import (
    MAXIMUM_CHARGE,
    PRESENTMENT_CURRENCIES,
    chargeable_currency,
)
from skileez_contracts.domain.errors import (
    AmountTooLarge,
    AmountTooPrecise,
    AmountTooSmall,
    PriceRefused,
    UnsupportedCurrency,
)
from skileez_contracts.domain.money import MAX_PAYABLE_AMOUNT
from skileez_contracts.domain.proposal import Proposal
from skileez_web.money import THREE_DECIMAL, ZERO_DECIMAL

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def propose(session_count: int, price_per_session: int, currency: str) -> Proposal:
    return Proposal.propose(
        coach_id="coach-1",
        student_id="student-1",
        title="Chess",
        description="",
        session_count=session_count,
        price_per_session=price_per_session,
        currency=currency,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("currency", "minimum"),
    [("usd", 50), ("eur", 50), ("gbp", 30), ("chf", 50), ("jpy", 50), ("huf", 17_500)],
)
def test_a_total_under_stripes_minimum_is_refused_and_the_minimum_itself_is_taken(
    currency: str, minimum: int
) -> None:
    assert propose(1, minimum, currency).amount == minimum
    with pytest.raises(AmountTooSmall) as refused:
        propose(1, minimum - 1, currency)
    assert refused.value.code == "amount_too_small"
    assert refused.value.fields == {"currency": currency, "minimum": minimum}
    assert currency.upper() in str(refused.value)


def test_the_minimum_is_on_the_total_not_on_a_session() -> None:
    assert propose(2, 25, "usd").amount == 50
    assert propose(10, 5, "jpy").amount == 50


def test_a_total_over_stripes_eight_digits_is_refused() -> None:
    assert propose(1, MAXIMUM_CHARGE, "usd").amount == 99_999_999
    with pytest.raises(AmountTooLarge) as refused:
        propose(2, 50_000_000, "usd")
    assert refused.value.code == "amount_too_large"
    assert refused.value.fields == {"currency": "usd", "maximum": 99_999_999}
    assert "$999,999.99" in str(refused.value)
    with pytest.raises(AmountTooLarge):
        propose(1, MAXIMUM_CHARGE + 1, "jpy")


@pytest.mark.parametrize("currency", ["xyz", "btc", "xau", "eek", "EUR"])
def test_a_currency_stripe_does_not_charge_in_is_refused(currency: str) -> None:
    with pytest.raises(UnsupportedCurrency) as refused:
        propose(10, 5_000, currency)
    assert refused.value.code == "unsupported_currency"
    assert refused.value.fields == {"currency": currency}


@pytest.mark.parametrize("currency", sorted(THREE_DECIMAL))
def test_three_decimal_amounts_must_end_in_zero(currency: str) -> None:
    assert propose(4, 1_250, currency).amount == 5_000
    with pytest.raises(AmountTooPrecise) as refused:
        propose(4, 1_255, currency)
    assert refused.value.code == "amount_too_precise"
    assert refused.value.fields == {"currency": currency, "step": 10}
    assert f"1.250 {currency.upper()} or 1.260 {currency.upper()}" in str(refused.value)


def test_a_three_decimal_session_price_must_end_in_zero_even_when_the_total_does() -> None:
    """A cancellation refunds whole sessions: each session's price must be refundable too."""
    with pytest.raises(AmountTooPrecise):
        propose(10, 1_001, "kwd")


def test_kwd_asks_at_least_one_dinar_and_isk_whole_kronur() -> None:
    with pytest.raises(AmountTooSmall):
        propose(1, 990, "kwd")
    assert propose(1, 1_000, "kwd").amount == 1_000
    with pytest.raises(AmountTooPrecise):
        propose(1, 150, "isk")
    assert propose(1, 200, "isk").amount == 200


def test_zero_decimal_currencies_have_no_minor_unit() -> None:
    for code in ZERO_DECIMAL:
        currency = chargeable_currency(code)
        assert (currency.decimals, currency.step) == (0, 1)
    assert propose(4, 5_000, "jpy").amount == 20_000


def test_every_currency_stripe_counts_specially_is_one_it_charges_in() -> None:
    assert ZERO_DECIMAL <= PRESENTMENT_CURRENCIES
    assert THREE_DECIMAL <= PRESENTMENT_CURRENCIES


def test_every_chargeable_total_fits_in_an_event() -> None:
    assert MAXIMUM_CHARGE <= MAX_PAYABLE_AMOUNT
    for code in PRESENTMENT_CURRENCIES:
        currency = chargeable_currency(code)
        assert 0 < currency.minimum <= currency.maximum <= MAX_PAYABLE_AMOUNT
        assert currency.minimum % currency.step == 0


def test_every_price_refusal_carries_fields_for_the_client() -> None:
    for refusal in (AmountTooLarge, AmountTooSmall, AmountTooPrecise, UnsupportedCurrency):
        assert issubclass(refusal, PriceRefused)
    assert AmountTooLarge("plain").fields == {}
