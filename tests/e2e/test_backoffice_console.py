"""The operators' console in a real browser, against the whole system: an admin finds a held
payment (money taken twice), refunds it at review with a note, sees the refund arrive and the
action in the audit log; opens the revenue chart and downloads its CSV. A student's or a
coach's token is refused everywhere in the console.

Screenshots: `test-output/e2e/<test>/NN-name.png`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Download, async_playwright, expect
from test_browser import CHROMIUM, CHROMIUM_ARGS, EVENTUALLY, STEP, Browser, heading
from test_money_edges import RECONCILE_INTERVAL_SECONDS, just_after_a_reconciliation_pass

from skileez_events.testing import wait_until
from skileez_system.client import (
    Actor,
    Emulator,
    Parties,
    contract_where,
    pending_contract,
    start_checkout,
)
from skileez_system.system import System
from skileez_web.auth import Role
from stripe_emulator.testing import EmulatorControl

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
    ),
]

CONSOLE_PAGES = [
    "/console",
    "/console/payments",
    "/console/payments.csv",
    "/console/held",
    "/console/refunds",
    "/console/disputes",
    "/console/dead-letters",
    "/console/audit",
    "/console/audit.csv",
    "/console/reports",
    "/console/reports/revenue.csv",
    "/reports/revenue",
    "/reports/funnel",
]


@pytest.fixture
async def admin_browser(tmp_path: Path, output_dir: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        context: BrowserContext = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="UTC",
            accept_downloads=True,
        )
        context.set_default_timeout(STEP)
        context.set_default_navigation_timeout(STEP)
        expect.set_options(timeout=STEP)
        try:
            browser = Browser(await context.new_page(), output_dir)
            yield browser
            assert browser.server_errors == []
        finally:
            await context.close()


async def held_payment(
    system: System, http: aiohttp.ClientSession, parties: Parties
) -> tuple[str, str]:
    """Money taken twice (as tests/e2e/test_money_edges.py makes it): the first session's
    webhooks lost and the session forgotten at Stripe, a second one paid; reconciliation finds
    the first payment's money and payments holds it. The held and the paying payment's ids."""
    emulator = Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
    control = EmulatorControl(emulator.base_url, http)
    contract = await pending_contract(parties)
    await just_after_a_reconciliation_pass(http, system)
    first = await start_checkout(parties.student, contract["id"])
    await control.drop_next_deliveries(4)
    await control.complete_session(first["checkout_session_id"], "paid")
    await control.forget_session(first["checkout_session_id"])
    second = await start_checkout(parties.student, contract["id"])
    await emulator.complete(second["checkout_session_id"], "paid")
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")

    async def held() -> Any:
        answer = await parties.admin.call("GET", "payments", f"/payments/{first['payment_id']}")
        return answer.body.get("status") == "held_for_review"

    await wait_until(held, timeout=EVENTUALLY)
    return first["payment_id"], second["payment_id"]


async def text_of(download: Download) -> str:
    return await asyncio.to_thread(Path(await download.path()).read_text)


async def sign_in_to_the_console(browser: Browser, system: System, admin: Actor) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{system.url('backoffice')}/auth/codes",
            json={"next": "/console"},
            headers={"Authorization": f"Bearer {admin.token}"},
        ) as response,
    ):
        assert response.status == 201, await response.text()
        link = (await response.json())["url"]
    page = browser.page
    await page.goto(link)
    await page.get_by_role("button", name=re.compile(r"^Continue as .* \(admin\)$")).click()
    await expect(page).to_have_url(f"{system.url('backoffice')}/console")
    await expect(heading(page, "Operators' console")).to_be_visible()


async def test_an_admin_refunds_a_held_payment_with_a_note_and_finds_it_in_the_audit_log(
    start_system: Callable[..., Any], http: aiohttp.ClientSession, admin_browser: Browser
) -> None:
    system: System = await start_system(
        extra_env={"payments": {"RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL_SECONDS)}}
    )
    parties = Parties(
        student=Actor(http, system, Role.STUDENT),
        coach=Actor(http, system, Role.COACH),
        admin=Actor(http, system, Role.ADMIN),
    )
    held_id, paying_id = await held_payment(system, http, parties)
    page = admin_browser.page
    await sign_in_to_the_console(admin_browser, system, parties.admin)
    await admin_browser.reload_until(
        lambda: page.get_by_role("link", name="1 payment held for review")
    )
    await admin_browser.shot("console-overview")

    await page.get_by_role("link", name="Held payments").click()
    await expect(heading(page, "Held payments")).to_be_visible()
    review = page.get_by_role("form", name=f"Review payment {held_id}")
    await expect(review).to_be_visible()
    await expect(page.get_by_text("€180.00").first).to_be_visible()
    note = "Paid twice: the first session's money goes back"
    await review.get_by_label("Why").fill(note)
    await admin_browser.shot("held-payment")
    await review.get_by_role("button", name="Refund the whole charge").click()

    await expect(page).to_have_url(re.compile(rf"/console/payments/{held_id}\?done=\d+$"))
    await expect(page.get_by_role("status")).to_contain_text("Review refund done")
    await admin_browser.shot("review-refund-done")

    async def refunded() -> bool:
        answer = await parties.admin.call("GET", "payments", f"/payments/{held_id}")
        return answer.body.get("status") == "refunded"

    await wait_until(refunded, timeout=EVENTUALLY)
    # The refund's event reaches the backoffice's read model: the timeline shows it.
    await admin_browser.reload_until(
        lambda: page.get_by_role("cell", name=re.compile("refunded")).first
    )
    await expect(page.get_by_text(note).first).to_be_visible()
    await admin_browser.shot("payment-timeline")

    await page.get_by_role("link", name="Audit log").first.click()
    row = page.get_by_role("row").filter(has_text=note)
    await expect(row).to_contain_text("review refund")
    await expect(row).to_contain_text("Admin")
    await expect(row).to_contain_text(held_id)
    await admin_browser.shot("audit-log")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download as CSV").click()
    audit = list(csv.DictReader(io.StringIO(await text_of(await download_info.value))))
    assert [(e["action"], e["subject"], e["note"], e["succeeded"]) for e in audit] == [
        ("review_refund", held_id, note, "True")
    ]

    # Part of the paying payment back, from its page: one refund per form shown, even when
    # the same form is sent twice (its idempotency key).
    await page.goto(f"{system.url('backoffice')}/console/payments/{paying_id}")
    refund = page.get_by_role("form", name="Refund payment")
    key = await refund.locator("input[name=idempotency_key]").input_value()
    await refund.get_by_label("Amount").fill("45.00")
    await refund.get_by_label("Reason for Stripe").select_option("requested_by_customer")
    await refund.get_by_label("Why").fill("One session was not held")
    await admin_browser.shot("refund-form")
    await refund.get_by_role("button", name="Refund").click()
    await expect(page.get_by_role("status")).to_contain_text("Refund done: 202")
    again = {
        "amount": "45.00",
        "reason": "requested_by_customer",
        "note": "sent again",
        "idempotency_key": key,
    }
    async with http.post(
        f"{system.url('backoffice')}/console/payments/{paying_id}/refund",
        data=again,
        headers={"Authorization": f"Bearer {parties.admin.token}"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303

    async def partly_refunded() -> bool:
        answer = await parties.admin.call("GET", "payments", f"/payments/{paying_id}")
        return answer.body.get("status") == "partially_refunded"

    await wait_until(partly_refunded, timeout=EVENTUALLY)
    paying = await parties.admin.call("GET", "payments", f"/payments/{paying_id}")
    assert paying.body["amount_refunded"] == 4500  # once
    await admin_browser.reload_until(
        lambda: page.get_by_role("cell", name=re.compile(r"€45\.00 refunded")).first
    )
    await admin_browser.shot("partly-refunded")

    # The payment that paid the contract is revenue (less its refund); the held one, refunded
    # whole, never was.
    today = datetime.now(UTC).date().isoformat()
    await page.get_by_role("link", name="Reports").click()
    await expect(heading(page, "Reports")).to_be_visible()
    chart = page.get_by_role("img", name="Net revenue in EUR by day")
    await expect(chart).to_be_visible()
    table = page.get_by_role("region", name="Revenue in EUR").get_by_role("table")
    await expect(table.get_by_role("row", name=re.compile(today))).to_contain_text("€135.00")
    await admin_browser.shot("revenue-chart")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download the revenue as CSV").click()
    download = await download_info.value
    assert re.fullmatch(
        r"revenue-day-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename
    )
    lines = list(csv.DictReader(io.StringIO(await text_of(download))))
    assert [
        (
            line["group"],
            line["currency"],
            line["gross"],
            line["refunded"],
            line["net"],
            line["count"],
        )
        for line in lines
    ] == [(today, "eur", "18000", "4500", "13500", "1")]
    assert paying_id != held_id


@pytest.mark.parametrize("role", [Role.STUDENT, Role.COACH])
async def test_a_student_or_coach_token_is_refused_everywhere_in_the_console(
    system: System, http: aiohttp.ClientSession, role: Role
) -> None:
    someone = Actor(http, system, role)
    for path in CONSOLE_PAGES:
        answer = await someone.call("GET", "backoffice", path)
        assert answer.status == 403, (path, answer.status)
    for action in (f"payments/{uuid.UUID(int=0)}/review", "dead-letters/payments/x/replay"):
        async with http.post(
            f"{system.url('backoffice')}/console/{action}",
            data={"decision": "approve", "note": "mine now"},
            headers={"Authorization": f"Bearer {someone.token}"},
            allow_redirects=False,
        ) as response:
            assert response.status == 403, action
