"""The report figures: revenue per period or coach and currency, and the payment funnel.

Each movement of money counts in the period of its own event: a payment's amount (gross) when
it was paid, a refund when it was made, a lost dispute when it was closed. Only payments that
succeeded count (a held payment refunded at review never was revenue). Currencies are never
added together: every figure is per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from skileez_backoffice.domain.errors import InvalidReportPeriod

MAX_DAYS = 3660
"""The longest period a report covers (ten years)."""


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    COACH = "coach"


@dataclass(frozen=True)
class Period:
    """From the start of `first` to the end of `last`, UTC days, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidReportPeriod("`to` is before `from`.")
        if (self.last - self.first).days >= MAX_DAYS:
            raise InvalidReportPeriod(f"A report covers at most {MAX_DAYS} days.")

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)


@dataclass(frozen=True)
class RevenueLine:
    """The figures of one group (a day, week, month or coach) in one currency."""

    group: str
    currency: str
    gross: int
    refunded: int
    disputed: int
    count: int
    coach_name: str | None = None

    @property
    def net(self) -> int:
        return self.gross - self.refunded - self.disputed


@dataclass(frozen=True)
class Funnel:
    contracts_created: int
    checkout_started: int
    """Contracts with at least one payment attempt the backoffice heard of (processing,
    failed, held or paid): payments publishes no event for a Checkout Session opened."""
    paid: int
    median_seconds_to_pay: float | None
    """From the contract's creation to its first successful payment, among those paid."""

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def started_rate(self) -> float | None:
        return self._rate(self.checkout_started, self.contracts_created)

    @property
    def paid_rate_of_started(self) -> float | None:
        return self._rate(self.paid, self.checkout_started)

    @property
    def paid_rate(self) -> float | None:
        return self._rate(self.paid, self.contracts_created)


def totals_by_currency(lines: list[RevenueLine]) -> list[RevenueLine]:
    """The lines added up per currency (never across currencies), in currency order."""
    totals: dict[str, RevenueLine] = {}
    for line in lines:
        seen = totals.get(line.currency)
        totals[line.currency] = RevenueLine(
            group="total",
            currency=line.currency,
            gross=line.gross + (seen.gross if seen else 0),
            refunded=line.refunded + (seen.refunded if seen else 0),
            disputed=line.disputed + (seen.disputed if seen else 0),
            count=line.count + (seen.count if seen else 0),
        )
    return [totals[currency] for currency in sorted(totals)]
