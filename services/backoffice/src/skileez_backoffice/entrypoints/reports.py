"""The reports as JSON, or CSV for `Accept: text/csv` (admins)."""

from __future__ import annotations

from aiohttp import web

from skileez_backoffice.adapters import reports
from skileez_backoffice.domain.reports import RevenueLine, totals_by_currency
from skileez_backoffice.entrypoints.resources import PROBLEMS, admin, api, request_transaction
from skileez_backoffice.entrypoints.schemas import (
    FunnelOut,
    PeriodQuery,
    RevenueLineOut,
    RevenueOut,
    RevenueQuery,
)
from skileez_backoffice.entrypoints.tabular import csv_response, wants_csv
from skileez_web.openapi import JsonOrCsv
from skileez_web.problems import parse_query

REVENUE_COLUMNS = (
    "group",
    "coach_name",
    "currency",
    "gross",
    "refunded",
    "disputed",
    "net",
    "count",
)


def revenue_csv_rows(lines: list[RevenueLine]) -> list[list[object]]:
    return [
        [
            line.group,
            line.coach_name,
            line.currency,
            line.gross,
            line.refunded,
            line.disputed,
            line.net,
            line.count,
        ]
        for line in lines
    ]


@api.operation(
    "GET",
    "/reports/revenue",
    summary="Revenue by day, week, month or coach, per currency (never summed across"
    " currencies): gross, refunded, disputed (lost), net and payments paid; CSV for"
    " Accept: text/csv (admins)",
    query=RevenueQuery,
    responses={200: JsonOrCsv(RevenueOut), **PROBLEMS, 422: None},
)
async def revenue(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, RevenueQuery)
    period = query.period
    async with request_transaction(request) as connection:
        lines = await reports.revenue(connection, period, query.group_by, query.currency)
    if wants_csv(request):
        name = f"revenue-{query.group_by}-{period.first}-{period.last}.csv"
        return csv_response(name, REVENUE_COLUMNS, revenue_csv_rows(lines))
    body = RevenueOut.model_validate(
        {
            "from": period.first,
            "to": period.last,
            "group_by": query.group_by,
            "currency": query.currency,
            "lines": [RevenueLineOut.of(line) for line in lines],
            "totals": [RevenueLineOut.of(line) for line in totals_by_currency(lines)],
        }
    )
    return web.json_response(body.model_dump(mode="json", by_alias=True))


@api.operation(
    "GET",
    "/reports/funnel",
    summary="Contracts created, then a payment attempted, then paid: counts, conversion and"
    " the median time to pay; CSV for Accept: text/csv (admins)",
    query=PeriodQuery,
    responses={200: JsonOrCsv(FunnelOut), **PROBLEMS, 422: None},
)
async def funnel(request: web.Request) -> web.Response:
    admin(request)
    period = parse_query(request, PeriodQuery).period
    async with request_transaction(request) as connection:
        figures = await reports.funnel(connection, period)
    body = FunnelOut.of(period, figures)
    if wants_csv(request):
        return csv_response(
            f"funnel-{period.first}-{period.last}.csv",
            ("stage", "contracts", "rate"),
            [
                ("contracts_created", body.contracts_created, None),
                ("checkout_started", body.checkout_started, body.started_rate),
                ("paid", body.paid, body.paid_rate),
                ("median_seconds_to_pay", body.median_seconds_to_pay, None),
            ],
        )
    return web.json_response(body.model_dump(mode="json", by_alias=True))
