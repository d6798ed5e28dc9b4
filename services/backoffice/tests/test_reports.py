"""The reports against the hand-computed fixture (`november.py`), to the cent, as JSON and CSV;
admins only."""

from __future__ import annotations

import csv
import io

import pytest

from skileez_web.auth import Role

from .conftest import Backoffice
from .november import november

pytestmark = pytest.mark.timeout(60)

PERIOD = "from=2026-11-02&to=2026-11-15"
FIGURES = ("group", "currency", "gross", "refunded", "disputed", "net", "count")


@pytest.fixture
async def november_seen(backoffice: Backoffice) -> Backoffice:
    events = november()
    await backoffice.publish(*events)
    await backoffice.wait_until_handled(len(events))
    return backoffice


def figures(lines: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [tuple(line[name] for name in FIGURES) for line in lines]


async def test_revenue_by_week_per_currency_matches_the_hand_computed_figures(
    november_seen: Backoffice,
) -> None:
    status, body = await november_seen.call("GET", f"/reports/revenue?{PERIOD}&group_by=week")
    assert status == 200, body
    assert figures(body["lines"]) == [
        ("2026-W45", "eur", 30000, 6500, 0, 23500, 2),
        ("2026-W45", "jpy", 5000, 0, 0, 5000, 1),
        ("2026-W46", "eur", 6000, 3000, 12000, -9000, 1),
        ("2026-W46", "jpy", 12000, 1500, 0, 10500, 1),
    ]
    assert figures(body["totals"]) == [
        ("total", "eur", 36000, 9500, 12000, 14500, 3),
        ("total", "jpy", 17000, 1500, 0, 15500, 2),
    ]
    assert (body["from"], body["to"], body["group_by"]) == ("2026-11-02", "2026-11-15", "week")


async def test_revenue_by_coach_and_by_month_and_in_one_currency(november_seen: Backoffice) -> None:
    _, by_coach = await november_seen.call("GET", f"/reports/revenue?{PERIOD}&group_by=coach")
    assert figures(by_coach["lines"]) == [
        ("coach-ana", "eur", 18000, 9500, 0, 8500, 1),
        ("coach-ana", "jpy", 5000, 1500, 0, 3500, 1),
        ("coach-bo", "eur", 18000, 0, 12000, 6000, 2),
        ("coach-bo", "jpy", 12000, 0, 0, 12000, 1),
    ]
    assert [line["coach_name"] for line in by_coach["lines"]] == ["Ana Coach"] * 2 + [
        "Bo Coach"
    ] * 2
    _, by_month = await november_seen.call(
        "GET", f"/reports/revenue?{PERIOD}&group_by=month&currency=jpy"
    )
    assert figures(by_month["lines"]) == [("2026-11", "jpy", 17000, 1500, 0, 15500, 2)]
    _, by_day = await november_seen.call("GET", f"/reports/revenue?{PERIOD}&currency=eur")
    assert figures(by_day["lines"])[:3] == [
        ("2026-11-02", "eur", 18000, 2000, 0, 16000, 1),
        ("2026-11-03", "eur", 0, 4500, 0, -4500, 0),
        ("2026-11-04", "eur", 12000, 0, 0, 12000, 1),
    ]


async def test_revenue_as_csv(november_seen: Backoffice) -> None:
    status, text = await november_seen.call(
        "GET", f"/reports/revenue?{PERIOD}&group_by=week", headers={"Accept": "text/csv"}
    )
    assert status == 200
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "group",
        "coach_name",
        "currency",
        "gross",
        "refunded",
        "disputed",
        "net",
        "count",
    ]
    assert rows[1:] == [
        ["2026-W45", "", "eur", "30000", "6500", "0", "23500", "2"],
        ["2026-W45", "", "jpy", "5000", "0", "0", "5000", "1"],
        ["2026-W46", "", "eur", "6000", "3000", "12000", "-9000", "1"],
        ["2026-W46", "", "jpy", "12000", "1500", "0", "10500", "1"],
    ]


async def test_the_funnel_matches_the_hand_computed_figures(november_seen: Backoffice) -> None:
    status, body = await november_seen.call("GET", f"/reports/funnel?{PERIOD}")
    assert status == 200, body
    assert body == {
        "from": "2026-11-02",
        "to": "2026-11-15",
        "contracts_created": 7,
        "checkout_started": 6,
        "paid": 5,
        "started_rate": 0.8571,
        "paid_rate_of_started": 0.8333,
        "paid_rate": 0.7143,
        "median_seconds_to_pay": 7200.0,
    }
    status, text = await november_seen.call(
        "GET", f"/reports/funnel?{PERIOD}", headers={"Accept": "text/csv"}
    )
    assert list(csv.reader(io.StringIO(text)))[1:4] == [
        ["contracts_created", "7", ""],
        ["checkout_started", "6", "0.8571"],
        ["paid", "5", "0.7143"],
    ]


@pytest.mark.parametrize("path", ["/reports/revenue", "/reports/funnel"])
async def test_reports_are_for_admins_only(backoffice: Backoffice, path: str) -> None:
    assert (await backoffice.call("GET", path, role=None))[0] == 401
    for role in (Role.STUDENT, Role.COACH):
        status, problem = await backoffice.call("GET", path, role=role)
        assert (status, problem["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-11-15&to=2026-11-02",
        "from=2000-01-01&to=2026-11-02",
        "from=yesterday",
        "to=0",
        "group_by=year",
        "currency=EUR",
        "unknown=1",
    ],
)
async def test_a_bad_query_is_a_422(backoffice: Backoffice, query: str) -> None:
    status, problem = await backoffice.call("GET", f"/reports/revenue?{query}")
    assert status == 422
    assert problem["code"] in ("validation_error", "invalid_period")
