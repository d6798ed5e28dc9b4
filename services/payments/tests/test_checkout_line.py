"""The line item a student reads at Checkout: the sessions at their price, when they split."""

from __future__ import annotations

from skileez_payments.domain.contract import SESSION_UNIT, CheckoutLine

from .test_handlers import contract


def test_a_whole_contract_is_its_sessions_at_their_price() -> None:
    four = contract(session_count=4, amount=18_000)
    assert four.price_per_session == 4_500
    assert four.line_of(18_000) == CheckoutLine(4, 4_500, SESSION_UNIT)
    assert four.line_of(18_000).amount == 18_000


def test_another_amount_or_an_uneven_split_is_one_line_of_that_amount() -> None:
    four = contract(session_count=4, amount=18_000)
    assert four.line_of(9_000) == CheckoutLine(1, 9_000, None)
    uneven = contract(session_count=3, amount=10_000)
    assert uneven.price_per_session is None
    assert uneven.line_of(10_000) == CheckoutLine(1, 10_000, None)
