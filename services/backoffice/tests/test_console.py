"""The console's pages on the fixture's read model: admins only, filters, search, pagination,
CSV exports, the payment's timeline, and what the pages say while the other services are
down (this test's backoffice reaches none of them)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from skileez_web.auth import Role

from .conftest import Backoffice
from .november import ids, november

pytestmark = pytest.mark.timeout(60)

HTML = {"Accept": "text/html"}
PAGES = [
    "/console",
    "/console/payments",
    f"/console/payments/{ids('P1')}",
    "/console/payments.csv",
    "/console/held",
    "/console/refunds",
    "/console/disputes",
    "/console/dead-letters",
    "/console/audit",
    "/console/audit.csv",
    "/console/reports",
    "/console/reports/revenue.csv",
]


@pytest.fixture
async def november_seen(backoffice: Backoffice) -> Backoffice:
    events = november()
    await backoffice.publish(*events)
    await backoffice.wait_until_handled(len(events))
    return backoffice


async def page(
    backoffice: Backoffice, path: str, role: Role | None = Role.ADMIN
) -> tuple[int, str]:
    return await backoffice.call("GET", path, role=role, headers=HTML)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_is_for_admins_only(november_seen: Backoffice, path: str) -> None:
    status, body = await page(november_seen, path)
    assert status == 200, body
    assert (await page(november_seen, path, role=None))[0] == 401
    for role in (Role.STUDENT, Role.COACH):
        status, body = await page(november_seen, path, role=role)
        assert status == 403
        assert "This is not yours to see or do" in body


@pytest.mark.parametrize(
    "post",
    [
        f"/console/payments/{ids('P3')}/review",
        f"/console/payments/{ids('P1')}/refund",
        "/console/dead-letters/payments/some-id/replay",
    ],
)
async def test_every_action_is_for_admins_only(backoffice: Backoffice, post: str) -> None:
    for role in (Role.STUDENT, Role.COACH):
        status, _ = await backoffice.call("POST", post, role=role, data={"note": "x"})
        assert status == 403
    assert (await backoffice.call("POST", post, role=None, data={"note": "x"}))[0] == 401
    async with backoffice.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SELECT count(*) FROM audit_log")).scalar_one() == 0


def listed_payments(body: str) -> list[str]:
    return re.findall(r'href="/console/payments/([0-9a-f-]{36})"', body)


async def test_the_payments_list_filters_searches_and_pages(november_seen: Backoffice) -> None:
    _, body = await page(november_seen, "/console/payments?status=held_for_review")
    assert listed_payments(body) == [str(ids("P9"))]
    _, body = await page(november_seen, "/console/payments?currency=jpy&status=")
    assert set(listed_payments(body)) == {str(ids("P6")), str(ids("P7"))}
    _, body = await page(november_seen, "/console/payments?coach=coach-bo&from=2026-11-08")
    assert set(listed_payments(body)) == {str(ids("P5")), str(ids("P7")), str(ids("P9"))}
    for search in (str(ids("C4")), "pi_test_P5", "cs_test_P4"):
        _, body = await page(november_seen, f"/console/payments?q={search}")
        assert set(listed_payments(body)) <= {str(ids("P4")), str(ids("P5"))}
        assert listed_payments(body)
    seen: list[str] = []
    path = "/console/payments?limit=3"
    while path:
        _, body = await page(november_seen, path)
        seen += listed_payments(body)
        older = re.search(r'href="(/console/payments\?[^"]*cursor=[^"]+)"', body)
        path = older.group(1).replace("&amp;", "&") if older else ""
    assert len(seen) == len(set(seen)) == 9


async def test_the_payments_csv_export_follows_the_filters(november_seen: Backoffice) -> None:
    status, text = await november_seen.call(
        "GET", "/console/payments.csv?currency=eur&status=refunded"
    )
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["id"] for row in rows} == {str(ids("P2")), str(ids("P3"))}
    assert {row["coach_name"] for row in rows} == {"Bo Coach", "Ana Coach"}


async def test_a_payments_page_shows_its_timeline_and_its_contracts_sessions(
    november_seen: Backoffice,
) -> None:
    status, body = await page(november_seen, f"/console/payments/{ids('P1')}")
    assert status == 200
    states = re.findall(r'<span class="status (\w+)">', body.split("Timeline")[1])
    assert states[:3] == ["succeeded", "partially_refunded", "partially_refunded"]
    assert "€45.00 refunded (€45.00 in all; Stripe refund re_test_P1_1)" in body
    assert "skileez.payments.PaymentRefunded.v1" in body
    assert body.count("60 min") == 2  # its contract's two sessions, one cancelled
    status, _ = await page(november_seen, "/console/payments/00000000-0000-0000-0000-000000000000")
    assert status == 404


async def test_the_reports_page_draws_a_chart_per_currency_beside_its_table(
    november_seen: Backoffice,
) -> None:
    status, body = await page(
        november_seen, "/console/reports?from=2026-11-02&to=2026-11-15&group_by=week"
    )
    assert status == 200
    assert body.count('<svg class="chart"') == 2
    assert "Net revenue in EUR by week" in body
    assert "Net revenue in JPY by week" in body
    assert "€-90.00" in body  # week 46's net in eur, below the zero line
    assert 'class="bar negative"' in body
    _, text = await november_seen.call(
        "GET", "/console/reports/revenue.csv?from=2026-11-02&to=2026-11-15&group_by=week&currency="
    )
    assert text.splitlines()[1] == "2026-W45,,eur,30000,6500,0,23500,2"


async def test_with_payments_down_a_review_is_recorded_as_not_done_and_the_page_says_why(
    november_seen: Backoffice,
) -> None:
    held = ids("P9")
    status, _ = await november_seen.call(
        "POST",
        f"/console/payments/{held}/review",
        data={"decision": "refund", "note": "Paid after its session expired: give it back"},
    )
    assert status == 303
    async with november_seen.engine.connect() as conn:
        entry = (await conn.exec_driver_sql("SELECT * FROM audit_log")).mappings().one()
    assert (entry["action"], entry["subject"], entry["succeeded"]) == (
        "review_refund",
        str(held),
        False,
    )
    assert entry["outcome"] == "payments cannot be reached: ClientConnectorError"
    assert (entry["actor_id"], entry["actor_name"]) == ("admin-1", "Ada Admin")
    _, body = await page(november_seen, f"/console/payments/{held}?done={entry['id']}")
    assert "payments cannot be reached" in body
    _, body = await page(november_seen, "/console/dead-letters")
    for service in ("contracts", "payments", "scheduling"):
        assert f"{service} cannot be reached" in body
    assert '<h2 id="dl-backoffice">Backoffice</h2>\n  \n  <p class="muted">None.</p>' in body
    _, body = await page(november_seen, "/console")
    assert body.count('<span class="status failed">cannot be reached</span>') == 3


@pytest.mark.parametrize(
    "form",
    [
        {"decision": "refund", "note": "  "},
        {"decision": "refund"},
        {"decision": "cancel", "note": "why"},
    ],
)
async def test_a_review_without_a_note_or_decision_is_refused_and_changes_nothing(
    november_seen: Backoffice, form: dict[str, str]
) -> None:
    status, _ = await november_seen.call("POST", f"/console/payments/{ids('P9')}/review", data=form)
    assert status == 422
    async with november_seen.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SELECT count(*) FROM audit_log")).scalar_one() == 0


@pytest.mark.parametrize("amount", ["-5", "0", "1.234", "abc", "1e3000"])
async def test_a_refund_of_an_unreadable_amount_is_refused(
    november_seen: Backoffice, amount: str
) -> None:
    form = {"amount": amount, "note": "asked", "idempotency_key": "k-1"}
    status, problem = await november_seen.call(
        "POST", f"/console/payments/{ids('P1')}/refund", data=form
    )
    assert status == 422, problem
    assert problem["code"] == "invalid_amount"


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/console/payments?coach=a%00b", None),
        ("GET", "/console/payments.csv?q=%00", None),
        ("POST", f"/console/payments/{ids('P9')}/review", {"decision": "refund", "note": "a\x00"}),
        (
            "POST",
            f"/console/payments/{ids('P1')}/refund",
            {"note": "why", "idempotency_key": "k\x0b\x16"},
        ),
        ("POST", "/console/dead-letters/payments/a%00b/replay", {"note": "why"}),
    ],
)
async def test_what_postgresql_or_http_cannot_carry_is_refused_not_a_500(
    backoffice: Backoffice, method: str, path: str, form: dict[str, str] | None
) -> None:
    """Found by fuzzing: a NUL in a filter or a note, control characters in a key."""
    status, _ = await backoffice.call(method, path, data=form)
    assert status in (404, 422)
    async with backoffice.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SELECT count(*) FROM audit_log")).scalar_one() == 0


async def test_a_reports_form_left_empty_shows_the_default_period(backoffice: Backoffice) -> None:
    status, body = await page(backoffice, "/console/reports?from=&to=&currency=&group_by=")
    assert status == 200
    assert "No money moved in this period." in body
