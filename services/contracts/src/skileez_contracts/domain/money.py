"""Money in a currency's minor unit, as Stripe counts it."""

from __future__ import annotations

from skileez_contracts.domain.errors import AmountTooLarge

MAX_AMOUNT = 99_999_999_999
"""The largest amount an event may carry (`MinorUnits` in the event catalogue)."""

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


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


def format_amount(amount: int, currency: str) -> str:
    """`12345, "eur"` -> `123.45 EUR`; zero-decimal currencies have no fraction."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    if digits == 0:
        return f"{amount} {currency.upper()}"
    whole, fraction = divmod(amount, 10**digits)
    return f"{whole}.{fraction:0{digits}d} {currency.upper()}"
