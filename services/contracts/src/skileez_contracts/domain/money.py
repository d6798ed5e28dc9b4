"""A contract's price: sessions x price per session, within what a payment can carry."""

from __future__ import annotations

from skileez_contracts.domain.errors import AmountTooLarge, InvalidTerms

MAX_PAYABLE_AMOUNT = 99_999_999_999
"""The largest total a contract may have, in the currency's minor unit. It is the event
catalogue's `skileez_events.schemas.MAX_AMOUNT`, the most an event may carry: a larger price
could not travel in ContractCreated, nor come back in PaymentSucceeded. Kept here so the domain
imports no messaging; a test checks that the two stay equal. Stripe's own maximum for each currency
(`currencies.MAXIMUM_CHARGE`, checked when a coach proposes) is lower still, so every proposal's
total fits in an event."""


def total_amount(session_count: int, price_per_session: int) -> int:
    """session_count x price_per_session, refused past `MAX_PAYABLE_AMOUNT`."""
    if session_count < 1 or price_per_session < 0:
        raise InvalidTerms(
            "A proposal needs at least one session and a price that is not negative."
        )
    amount = session_count * price_per_session
    if amount > MAX_PAYABLE_AMOUNT:
        raise AmountTooLarge(
            f"{session_count} sessions at {price_per_session} come to {amount}, "
            f"more than the largest payable amount {MAX_PAYABLE_AMOUNT}."
        )
    return amount
