"""The bodies and queries of the backoffice's JSON API, as its OpenAPI document describes them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skileez_backoffice.adapters.console import PaymentFilter
from skileez_backoffice.domain.payments import PaymentStatus
from skileez_backoffice.domain.reports import Funnel, GroupBy, Period, RevenueLine
from skileez_web.pagination import PageQuery

DEFAULT_DAYS = 30

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _an_iso_day(value: object) -> object:
    """A day as `2026-11-02`: pydantic would also take a number of seconds (`to=0`)."""
    if isinstance(value, str) and value and not ISO_DAY.fullmatch(value):
        raise ValueError("give a day as YYYY-MM-DD")
    return value


def _today() -> date:
    return datetime.now(UTC).date()


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(
        default=None, alias="from", description="first UTC day (default: 30 days before `to`)"
    )
    to: date | None = Field(default=None, description="last UTC day, included (default: today)")

    _days = field_validator("from_", "to", mode="before")(_an_iso_day)

    @property
    def period(self) -> Period:
        last = self.to or _today()
        return Period(self.from_ or last - timedelta(days=DEFAULT_DAYS - 1), last)


class RevenueQuery(PeriodQuery):
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    group_by: GroupBy = GroupBy.DAY


class RevenueLineOut(BaseModel):
    group: str = Field(description="the UTC day, ISO week (2026-W49), month, or coach id")
    coach_name: str | None
    currency: str
    gross: int
    refunded: int
    disputed: int = Field(description="lost disputes: money the bank took back")
    net: int
    count: int = Field(description="payments paid")

    @classmethod
    def of(cls, line: RevenueLine) -> RevenueLineOut:
        return cls(
            group=line.group,
            coach_name=line.coach_name,
            currency=line.currency,
            gross=line.gross,
            refunded=line.refunded,
            disputed=line.disputed,
            net=line.net,
            count=line.count,
        )


class RevenueOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    currency: str | None
    lines: list[RevenueLineOut]
    totals: list[RevenueLineOut] = Field(description="the whole period, one line per currency")


class FunnelOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    contracts_created: int
    checkout_started: int
    paid: int
    started_rate: float | None = Field(description="checkout_started / contracts_created")
    paid_rate_of_started: float | None = Field(description="paid / checkout_started")
    paid_rate: float | None = Field(description="paid / contracts_created")
    median_seconds_to_pay: float | None

    @classmethod
    def of(cls, period: Period, funnel: Funnel) -> FunnelOut:
        return cls.model_validate(
            {
                "from": period.first,
                "to": period.last,
                "contracts_created": funnel.contracts_created,
                "checkout_started": funnel.checkout_started,
                "paid": funnel.paid,
                "started_rate": funnel.started_rate,
                "paid_rate_of_started": funnel.paid_rate_of_started,
                "paid_rate": funnel.paid_rate,
                "median_seconds_to_pay": funnel.median_seconds_to_pay,
            }
        )


Decision = Literal["approve", "refund"]


def _blank_is_none(value: object) -> object:
    """A browser's filter form sends every field, the unused ones empty."""
    return None if isinstance(value, str) and not value.strip() else value


Blank = Literal[""]
"""What a browser's form sends for a field left empty: the same as leaving it out (the
document says so; `_blank_is_none` makes it None)."""

Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
"""Text PostgreSQL can store (no NUL character)."""

Note = Annotated[
    str,
    Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$", description="why"),
]
"""An operator's reason, kept in the audit log."""


class PaymentsFilterQuery(PageQuery):
    status: PaymentStatus | Blank | None = None
    from_: date | Blank | None = Field(
        default=None, alias="from", description="seen on or after (UTC)"
    )
    to: date | Blank | None = Field(default=None, description="seen on or before (UTC)")
    coach: Text | None = Field(default=None, max_length=200, description="coach id")
    student: Text | None = Field(default=None, max_length=200, description="student id")
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] | Blank | None = None
    q: Text | None = Field(
        default=None,
        max_length=255,
        description="a payment, contract, Checkout Session or PaymentIntent id",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _blanks = field_validator("*", mode="before")(_blank_is_none)
    _days = field_validator("from_", "to", mode="before")(_an_iso_day)

    @property
    def where(self) -> PaymentFilter:
        return PaymentFilter(
            status=self.status or None,
            since=datetime.combine(self.from_, time(), UTC) if self.from_ else None,
            before=datetime.combine(self.to + timedelta(days=1), time(), UTC) if self.to else None,
            coach=self.coach,
            student=self.student,
            currency=self.currency or None,
            search=self.q.strip() if self.q else None,
        )


class ConsoleRevenueQuery(BaseModel):
    """The reports page's form: as `RevenueQuery`, each field also left empty."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | Blank | None = Field(default=None, alias="from")
    to: date | Blank | None = None
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] | Blank | None = None
    group_by: GroupBy | Blank | None = None

    _blanks = field_validator("*", mode="before")(_blank_is_none)
    _days = field_validator("from_", "to", mode="before")(_an_iso_day)

    @property
    def report(self) -> RevenueQuery:
        return RevenueQuery.model_validate(
            {
                "from": self.from_ or None,
                "to": self.to or None,
                "currency": self.currency or None,
                "group_by": self.group_by or GroupBy.DAY,
            }
        )


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: int | None = Field(
        default=None, ge=1, description="the last entry id of the page before"
    )
    limit: int = Field(default=50, ge=1, le=200)


class DoneQuery(BaseModel):
    """The page after an action: which audit entry tells its outcome."""

    model_config = ConfigDict(extra="forbid")

    done: int | None = Field(default=None, ge=1)


class ReviewForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    note: Note


class RefundForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str | None = Field(
        default=None,
        max_length=20,
        description="in the currency's units as people write them (45.00); all that is left"
        " if empty",
    )
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    note: Note
    idempotency_key: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,255}$",
        description="new with each form shown (the same one when a form is sent again)",
    )

    _blanks = field_validator("amount", "reason", mode="before")(_blank_is_none)


class ReplayForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note
