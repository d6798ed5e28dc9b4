"""The console's pages (admins): payments with their filters and timelines, held payments,
refunds, disputes, every service's dead letters, the audit log, and the reports as charts.
Each page says which other service could not be reached and shows the rest."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from skileez_backoffice.adapters import console as views
from skileez_backoffice.adapters import reports
from skileez_backoffice.adapters.audit_log import AuditLog
from skileez_backoffice.domain.errors import PaymentNotFound
from skileez_backoffice.domain.payments import PaymentStatus
from skileez_backoffice.domain.reports import GroupBy, totals_by_currency
from skileez_backoffice.entrypoints.charts import bar_chart
from skileez_backoffice.entrypoints.reports import REVENUE_COLUMNS, revenue_csv_rows
from skileez_backoffice.entrypoints.resources import (
    PROBLEMS,
    SERVICES,
    admin,
    api,
    operator_token,
    request_transaction,
)
from skileez_backoffice.entrypoints.schemas import (
    AuditQuery,
    ConsoleRevenueQuery,
    DoneQuery,
    PaymentsFilterQuery,
)
from skileez_backoffice.entrypoints.tabular import csv_response
from skileez_backoffice.service_layer.services import ServiceUnavailable
from skileez_web.openapi import CSV, HTML, ResponseSpec
from skileez_web.pages import render_page
from skileez_web.pagination import page_of
from skileez_web.problems import parse_query, path_id

PAGE: dict[int, ResponseSpec] = {200: HTML, **PROBLEMS}
EXPORT_LIMIT = 10_000
"""Rows a CSV export of the payments list carries at most."""
PAYMENT_COLUMNS = (
    "id",
    "status",
    "first_seen_at",
    "paid_at",
    "amount",
    "currency",
    "refunded_total",
    "contract_id",
    "title",
    "coach_id",
    "coach_name",
    "student_id",
    "student_name",
    "stripe_checkout_session_id",
    "stripe_payment_intent_id",
    "held_reason",
    "held_amount",
    "held_currency",
    "failure_reason",
    "dispute_outcome",
)


def payment_id_of(request: web.Request) -> uuid.UUID:
    return path_id(request, lambda _: PaymentNotFound())


async def outcome_of(request: web.Request) -> Any:
    """The audit entry whose outcome the page shows after an action (`?done=`)."""
    done = parse_query(request, DoneQuery).done
    if done is None:
        return None
    async with request_transaction(request) as connection:
        return await AuditLog(connection).entry(done)


@api.operation("GET", "/console", summary="The console's first page (admins)", responses=PAGE)
async def overview(request: web.Request) -> web.Response:
    admin(request)
    services = request.app[SERVICES]
    names = [name for name in services.services if name != "backoffice"]
    ready = await asyncio.gather(*(services.ready(name) for name in names))
    async with request_transaction(request) as connection:
        counts = await views.counts(connection)
        latest = await AuditLog(connection).page(None, 5)
    context = {
        "section": "overview",
        "counts": counts,
        "ready": dict(zip(names, ready, strict=True)),
        "latest": latest,
    }
    return render_page(request, "overview.html", context)


@api.operation(
    "GET",
    "/console/payments",
    summary="Payments, the latest seen first, by status, date, coach, student and currency, or"
    " found by a payment, contract, Checkout Session or PaymentIntent id (admins)",
    query=PaymentsFilterQuery,
    responses={**PAGE, 422: None},
)
async def payments(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, PaymentsFilterQuery)
    async with request_transaction(request) as connection:
        fetched = await views.payments(connection, query.where, query.after, query.limit + 1)
    page, next_cursor = page_of(fetched, query.limit, lambda row: (row["first_seen_at"], row["id"]))
    filters = {k: v for k, v in request.query.items() if k not in ("cursor",) and v}
    context = {
        "section": "payments",
        "payments": page,
        "next_cursor": next_cursor,
        "query": query,
        "filters": filters,
        "statuses": list(PaymentStatus),
    }
    return render_page(request, "payments.html", context)


@api.operation(
    "GET",
    "/console/payments.csv",
    summary="The payments the same filters find, as CSV (admins; at most 10,000 rows)",
    query=PaymentsFilterQuery,
    responses={200: CSV, **PROBLEMS, 422: None},
)
async def payments_csv(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, PaymentsFilterQuery)
    async with request_transaction(request) as connection:
        rows = await views.payments(connection, query.where, None, EXPORT_LIMIT)
    return csv_response(
        "payments.csv",
        PAYMENT_COLUMNS,
        ([row[column] for column in PAYMENT_COLUMNS] for row in rows),
    )


@api.operation(
    "GET",
    "/console/payments/{id}",
    summary="A payment: its facts, its timeline (every state with its time and cause, and the"
    " operators' actions), its contract's sessions, and the refund and review forms (admins)",
    query=DoneQuery,
    responses={**PAGE, 404: None, 422: None},
)
async def payment(request: web.Request) -> web.Response:
    admin(request)
    payment_id = payment_id_of(request)
    done = await outcome_of(request)
    async with request_transaction(request) as connection:
        found = await views.payment(connection, payment_id)
        if found is None:
            raise PaymentNotFound()
        timeline = await views.timeline(connection, payment_id)
        related = await views.of_contract(connection, found["contract_id"])
        actions = await AuditLog(connection).page(None, 200, subject=str(payment_id))
    context = {
        "section": "payments",
        "payment": found,
        "timeline": timeline,
        "related": related,
        "actions": actions,
        "done": done,
        "idempotency_key": str(uuid.uuid4()),  # a new one per form shown: one refund per click
    }
    return render_page(request, "payment.html", context)


@api.operation(
    "GET",
    "/console/held",
    summary="Payments held for review: why, what Stripe charged and what was expected, and the"
    " review actions (admins)",
    query=DoneQuery,
    responses={**PAGE, 422: None},
)
async def held(request: web.Request) -> web.Response:
    admin(request)
    done = await outcome_of(request)
    async with request_transaction(request) as connection:
        found = await views.held(connection)
    return render_page(request, "held.html", {"section": "held", "held": found, "done": done})


@api.operation("GET", "/console/refunds", summary="The latest refunds (admins)", responses=PAGE)
async def refunds(request: web.Request) -> web.Response:
    admin(request)
    async with request_transaction(request) as connection:
        found = await views.refunds(connection, 200)
    return render_page(request, "refunds.html", {"section": "refunds", "refunds": found})


@api.operation(
    "GET",
    "/console/disputes",
    summary="Open disputes, then the latest closed (admins)",
    responses=PAGE,
)
async def disputes(request: web.Request) -> web.Response:
    admin(request)
    async with request_transaction(request) as connection:
        found = await views.disputes(connection, 200)
    return render_page(request, "disputes.html", {"section": "disputes", "disputes": found})


@api.operation(
    "GET",
    "/console/dead-letters",
    summary="Every service's dead letters, each with its body and a replay form; a service that"
    " cannot be reached is named (admins)",
    query=DoneQuery,
    responses={**PAGE, 422: None},
)
async def dead_letters(request: web.Request) -> web.Response:
    token = operator_token(request)
    done = await outcome_of(request)
    services = request.app[SERVICES]

    async def of(service: str) -> dict[str, Any]:
        try:
            answer = await services.dead_letters(service, token)
        except ServiceUnavailable as down:
            return {"service": service, "letters": None, "problem": str(down)}
        if not answer.ok:
            return {"service": service, "letters": None, "problem": f"it answered {answer.outcome}"}
        return {"service": service, "letters": answer.body["dead_letters"], "problem": None}

    panels = await asyncio.gather(*(of(service) for service in services.services))
    context = {"section": "dead-letters", "panels": panels, "done": done}
    return render_page(request, "dead_letters.html", context)


@api.operation(
    "GET",
    "/console/audit",
    summary="The audit log: every operator action, who, when, what and why, the latest first"
    " (admins)",
    query=AuditQuery,
    responses={**PAGE, 422: None},
)
async def audit(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, AuditQuery)
    async with request_transaction(request) as connection:
        entries = await AuditLog(connection).page(query.before, query.limit + 1)
    page = entries[: query.limit]
    older = page[-1]["id"] if len(entries) > query.limit else None
    context = {"section": "audit", "entries": page, "older": older}
    return render_page(request, "audit.html", context)


AUDIT_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "subject",
    "note",
    "outcome",
    "succeeded",
)


@api.operation(
    "GET",
    "/console/audit.csv",
    summary="The whole audit log as CSV (admins)",
    responses={200: CSV, **PROBLEMS},
)
async def audit_csv(request: web.Request) -> web.Response:
    admin(request)
    async with request_transaction(request) as connection:
        rows = await connection.fetch("SELECT * FROM audit_log ORDER BY id")
    return csv_response(
        "audit-log.csv", AUDIT_COLUMNS, ([row[c] for c in AUDIT_COLUMNS] for row in rows)
    )


@api.operation(
    "GET",
    "/console/reports",
    summary="Revenue per currency as charts with their tables, and the funnel (admins)",
    query=ConsoleRevenueQuery,
    responses={**PAGE, 422: None},
)
async def reports_page(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, ConsoleRevenueQuery).report
    period = query.period
    async with request_transaction(request) as connection:
        lines = await reports.revenue(connection, period, query.group_by, query.currency)
        funnel = await reports.funnel(connection, period)
    currencies = sorted({line.currency for line in lines})
    charts = [
        {
            "currency": currency,
            "lines": [line for line in lines if line.currency == currency],
            "chart": bar_chart(
                f"Net revenue in {currency.upper()} by {query.group_by}",
                [(line.group, line.net) for line in lines if line.currency == currency],
                currency,
            ),
        }
        for currency in currencies
    ]
    context = {
        "section": "reports",
        "period": period,
        "query": query,
        "charts": charts,
        "totals": totals_by_currency(lines),
        "funnel": funnel,
        "groupings": list(GroupBy),
        "csv_query": request.query_string,
    }
    return render_page(request, "reports.html", context)


@api.operation(
    "GET",
    "/console/reports/revenue.csv",
    summary="The revenue report the console shows, as CSV (admins)",
    query=ConsoleRevenueQuery,
    responses={200: CSV, **PROBLEMS, 422: None},
)
async def revenue_csv(request: web.Request) -> web.Response:
    admin(request)
    query = parse_query(request, ConsoleRevenueQuery).report
    period = query.period
    async with request_transaction(request) as connection:
        lines = await reports.revenue(connection, period, query.group_by, query.currency)
    name = f"revenue-{query.group_by}-{period.first}-{period.last}.csv"
    return csv_response(name, REVENUE_COLUMNS, revenue_csv_rows(lines))
