"""Ending a contract in a real browser: the student pays, sessions are booked through
scheduling (which tells contracts), then the student cancels from the contract page: the
quote, the reason, the confirmation; the money the policy owes goes back at Stripe by itself,
the future sessions are cancelled, and the contract and success pages show the refund."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect
from test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EVENTUALLY,
    STEP,
    Browser,
    heading,
    open_contract_then_checkout,
    pay_with,
    see_contract_active,
    see_payment_confirmed,
)

from skileez_events.testing import wait_until
from skileez_system.client import Emulator, Parties, contract_where, pending_contract
from skileez_system.system import System

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)


@pytest.fixture
async def browser(tmp_path: Path, output_dir: Path) -> AsyncIterator[Browser]:
    """A student's browser, as test_browser's (its screenshots under `output_dir`)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 800},
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(STEP)
        context.set_default_navigation_timeout(STEP)
        expect.set_options(timeout=STEP)
        try:
            student = Browser(await context.new_page(), output_dir)
            yield student
            assert student.server_errors == []
        finally:
            await context.close()


async def book(parties: Parties, contract_id: str, starts_in: timedelta) -> None:
    starts = (datetime.now(UTC) + starts_in).replace(second=0, microsecond=0)
    booked = await parties.student.call(
        "POST",
        "scheduling",
        f"/contracts/{contract_id}/sessions",
        {"starts_at": starts.isoformat(), "duration_minutes": 60},
    )
    assert booked.status == 201, booked.body


async def quoted(parties: Parties, contract_id: str, delivered: int) -> Any:
    """The student's quote, once contracts has heard of the sessions booked."""

    async def probe() -> Any:
        answer = await parties.student.call(
            "GET", "contracts", f"/contracts/{contract_id}/cancellation-quote"
        )
        assert answer.status == 200, answer.body
        return answer.body if answer.body["sessions_delivered"] == delivered else None

    return await wait_until(probe, timeout=EVENTUALLY)


async def test_the_student_ends_the_contract_and_the_unused_sessions_go_back_by_themselves(
    system: System,
    parties: Parties,
    browser: Browser,
    emulator: Emulator,
    http: aiohttp.ClientSession,
) -> None:
    contract = await pending_contract(parties)  # 4 sessions at €45.00
    page = browser.page
    await open_contract_then_checkout(browser, system, parties, contract["id"])
    await pay_with(browser, "Card 4242 4242 4242 4242")
    await see_payment_confirmed(browser, system, contract["id"])
    success_url = page.url
    await see_contract_active(browser, system, contract["id"])

    # One session in 3 hours (within the student's 24 hours: delivered), one in 3 days.
    await book(parties, contract["id"], timedelta(hours=3))
    await book(parties, contract["id"], timedelta(days=3))
    quote = await quoted(parties, contract["id"], delivered=1)
    assert (quote["refund_amount"], quote["sessions_refunded"]) == (13_500, 3)

    await page.reload()
    await page.get_by_role("link", name="Cancel contract").click()
    await expect(page).to_have_url(
        f"{system.url('contracts')}/contracts/{contract['id']}/cancellation-quote"
    )
    await expect(heading(page, "End the contract")).to_be_visible()
    quote_card = page.get_by_role("region", name="What goes back")
    await expect(quote_card).to_contain_text("€135.00 to Ana Silva")
    await expect(quote_card).to_contain_text("1 of 4")
    await expect(quote_card).to_contain_text("1 starting within 24 hours")
    await expect(quote_card).to_contain_text("3 \u00d7 €45.00")
    await browser.shot("cancellation-quote")

    end = page.get_by_role("button", name="End the contract and refund €135.00")
    await end.click()  # no reason given: the page asks for one, nothing changes
    await expect(page.get_by_role("alert")).to_contain_text("say why below")
    await expect(page.get_by_label("Why the contract ends")).to_have_attribute(
        "aria-invalid", "true"
    )
    await browser.shot("cancellation-needs-a-reason")
    await page.get_by_label("Why the contract ends").fill("I am moving abroad next week.")
    await page.get_by_role("button", name="End the contract and refund €135.00").click()

    await expect(page).to_have_url(f"{system.url('contracts')}/contracts/{contract['id']}")
    ended = page.get_by_role("region", name=re.compile("^Ended on .* by Ana Silva"))
    await expect(ended).to_contain_text("I am moving abroad next week.")
    await expect(ended).to_contain_text("€135.00")
    await expect(page.get_by_role("link", name="Cancel contract")).to_have_count(0)
    await browser.reload_until(lambda: page.locator("#refund-status", has_text="refunded"))
    await browser.shot("contract-cancelled-and-refunded")

    body = await contract_where(parties.student, contract["id"], cancellation_refunded=13_500)
    assert (body["status"], body["refund_amount"], body["cancelled_by"]) == (
        "cancelled",
        13_500,
        parties.student.user_id,
    )
    intent = body["stripe_payment_intent_id"]
    async with http.get(
        f"{emulator.base_url}/v1/refunds",
        params={"payment_intent": intent},
        headers={"Authorization": f"Bearer {emulator.secret_key}"},
    ) as response:
        refunds = (await response.json())["data"]
    assert [refund["amount"] for refund in refunds] == [13_500]

    async def sessions_cancelled() -> Any:
        answer = await parties.student.call(
            "GET", "scheduling", f"/contracts/{contract['id']}/sessions"
        )
        return answer.body if answer.body.get("scheduled_count") == 0 else None

    schedule: Any = await wait_until(sessions_cancelled, timeout=EVENTUALLY)
    assert schedule["cancelled_count"] == 2

    await page.goto(success_url)
    await expect(heading(page, "Your payment")).to_be_visible()
    await expect(heading(page, "This contract was cancelled")).to_be_visible()
    await expect(page.locator("#cancellation-refund")).to_contain_text("€135.00")
    await expect(page.locator("#refund-state")).to_have_text("refunded")
    await browser.shot("success-page-refund")

    notes = await parties.coach.call("GET", "contracts", "/notifications")
    [told] = [n for n in notes.body["items"] if n["kind"] == "contract_cancelled"]
    assert told["message"].startswith("Ana Silva ended Endgame technique (4 sessions): €135.00")
