"""Money as people read it: an integer in the currency's minor unit (as Stripe counts it and
the events carry it) shown with its symbol, the same on every page and in every message."""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
"""Currencies Stripe counts without a minor unit (https://docs.stripe.com/currencies)."""

THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF ", "inr": "₹"}


def decimals_of(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def format_amount(amount: int, currency: str) -> str:
    """`12345, "eur"` -> `€123.45`; `5000, "jpy"` -> `¥5,000`; unknown symbols use the code."""
    places = decimals_of(currency)
    value = Decimal(amount).scaleb(-places)
    number = f"{value:,.{places}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"
