"""A contract's price: sessions x price per session, within what an event can carry."""

from __future__ import annotations

from skileez_contracts.domain.errors import AmountTooLarge
from skileez_events.schemas import MAX_AMOUNT


def total_amount(session_count: int, price_per_session: int) -> int:
    """session_count x price_per_session, refused past `MAX_AMOUNT` (and for negative inputs)."""
    if session_count < 1 or price_per_session < 0:
        raise AmountTooLarge("Session count and price must be positive.")
    amount = session_count * price_per_session
    if amount > MAX_AMOUNT:
        raise AmountTooLarge(
            f"{session_count} sessions at {price_per_session} come to {amount}, "
            f"more than the largest payable amount {MAX_AMOUNT}."
        )
    return amount
