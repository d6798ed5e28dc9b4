"""Currencies as Stripe counts them: minor-unit exponents, minimum charges, display."""

from __future__ import annotations


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
THREE_DECIMAL = _codes("bhd jod kwd omr tnd")

# Presentment currencies the emulator accepts (a practical subset of Stripe's list).
SUPPORTED = (
    ZERO_DECIMAL
    | THREE_DECIMAL
    | _codes(
        "usd eur gbp chf cad aud nzd sek nok dkk pln czk huf ron bgn isk inr brl mxn sgd hkd "
        "zar ils try thb myr php idr aed sar"
    )
)

# Minimum charge amounts in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts)
MINIMUM_CHARGE = {
    "usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "nzd": 50,
    "sek": 300, "nok": 300, "dkk": 250, "pln": 200, "czk": 1500, "huf": 17500,
    "jpy": 50, "krw": 500, "mxn": 1000, "brl": 50, "inr": 50, "sgd": 50, "hkd": 400,
}  # fmt: skip
MAXIMUM_AMOUNT = 99_999_999

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩", "chf": "CHF "}


def exponent(currency: str) -> int:
    """How many digits of the amount are after the decimal point."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """Render an amount in minor units for people, e.g. `$12.34`, `¥1,200`, `12.340 KWD`."""
    digits = exponent(currency)
    major = amount / (10**digits) if digits else amount
    number = f"{major:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"{symbol}{number}"
    return f"{number} {currency.upper()}"


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency, 1 if exponent(currency) == 0 else 50)
