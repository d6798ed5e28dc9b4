"""What Stripe will charge, per presentment currency: checked when a coach proposes, so a price
Stripe would refuse never reaches the student's Pay button.

Source: Stripe's "Supported currencies" page, https://docs.stripe.com/currencies (sections
"Supported presentment currencies", "Zero-decimal currencies", "Three-decimal currencies",
"Special cases" and "Minimum and maximum charge amounts"). The currency lists and rules were
checked against the page's text on 2026-12-07; the minimums are the page's table as last read,
not re-read that day: check them against it when Stripe changes them.

- Amounts are integers in the minor unit as Stripe counts it: none for zero-decimal currencies
  (`jpy` 500 is ¥500), three digits for three-decimal ones (`kwd` 1500 is 1.500 KWD).
- Three-decimal amounts must end in 0 (Stripe's partners settle to the hundredth), and ISK,
  though zero-decimal at Stripe, is still passed with two decimals, so a whole krona: 100.
- The minimum charge is Stripe's per currency where its table names one. For other currencies
  Stripe asks for the equivalent of the settlement currency's minimum at the day's rate, which
  no table can hold; one whole unit of the currency is asked here, and Stripe stays the judge.
- The maximum is Stripe's eight digits in the minor unit (99999999) for every currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from skileez_contracts.domain.errors import (
    AmountTooLarge,
    AmountTooPrecise,
    AmountTooSmall,
    UnsupportedCurrency,
)
from skileez_web.money import decimals_of, format_amount


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


PRESENTMENT_CURRENCIES = _codes(
    "usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd "
    "bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp "
    "gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw "
    "kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad "
    "ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek "
    "sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst "
    "xaf xcd xcg xof xpf yer zar zmw"
)
"""The currencies Stripe can charge in (card payments; other methods take fewer)."""

WHOLE_UNITS_ONLY = {"isk": 100}
"""Currencies Stripe takes with two decimals that must be zero (a multiple of this step)."""

MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip
"""Stripe's minimum charge in the minor unit, for the currencies its table names."""

MAXIMUM_CHARGE = 99_999_999
"""Stripe's largest amount: eight digits in the minor unit (999,999.99 USD, ¥99,999,999)."""


@dataclass(frozen=True)
class ChargeableCurrency:
    """One currency as Stripe charges it: its minor unit, its limits and its step."""

    code: str
    decimals: int
    minimum: int
    maximum: int
    step: int

    def check_price(self, price_per_session: int, total: int) -> None:
        """Refuse what Stripe would not take: a total outside the currency's limits, or a
        session's price (what a cancellation refunds) or a total off the currency's step."""
        for what, amount in (("price per session", price_per_session), ("total", total)):
            if amount % self.step:
                below = amount - amount % self.step
                raise AmountTooPrecise(
                    f"Stripe takes {self.code.upper()} amounts only in steps of "
                    f"{self._shown(self.step)}; the {what} {self._shown(amount)} is not one: "
                    f"use {self._shown(below)} or {self._shown(below + self.step)}.",
                    currency=self.code,
                    step=self.step,
                )
        if total < self.minimum:
            raise AmountTooSmall(
                f"The total {self._shown(total)} is under Stripe's minimum charge in "
                f"{self.code.upper()}, {self._shown(self.minimum)}.",
                currency=self.code,
                minimum=self.minimum,
            )
        if total > self.maximum:
            raise AmountTooLarge(
                f"The total {self._shown(total)} is over Stripe's maximum charge in "
                f"{self.code.upper()}, {self._shown(self.maximum)}.",
                currency=self.code,
                maximum=self.maximum,
            )

    def _shown(self, amount: int) -> str:
        return format_amount(amount, self.code)


def chargeable_currency(code: str) -> ChargeableCurrency:
    """The currency `code` (lowercase ISO 4217) as Stripe charges it; refused if Stripe can't."""
    if code not in PRESENTMENT_CURRENCIES:
        raise UnsupportedCurrency(
            f"Stripe does not charge in {code.upper()!r}; use one of its presentment "
            f"currencies, such as EUR, USD, GBP or JPY.",
            currency=code,
        )
    decimals = decimals_of(code)  # three decimals: Stripe takes only amounts ending in 0
    step = 10 if decimals == 3 else WHOLE_UNITS_ONLY.get(code, 1)
    return ChargeableCurrency(
        code=code,
        decimals=decimals,
        minimum=MINIMUM_CHARGE.get(code, max(10**decimals, step)),
        maximum=MAXIMUM_CHARGE,
        step=step,
    )
