"""The schedule and payment pages in a real browser, in a time zone other than UTC: booking
through the date and time picker, an overlap and a past time shown in the form with what was
entered, a cancellation confirmed (by keyboard), the pay page of a paid contract, and the
checkout's line item. No navigation ends on JSON. Screenshots go to `test-output/e2e/<test>/`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, Response, async_playwright, expect
from test_browser import CHROMIUM, CHROMIUM_ARGS, STEP, Browser, heading, pay_button, pay_with

from skileez_system.client import Emulator, Parties, paid_contract, pending_contract
from skileez_system.system import System

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)

ZONE = "America/New_York"
"""The student's own time zone: the schedule reads and books in it."""


class PageBrowser(Browser):
    """A student's browser that also notes every page navigation that ended on JSON."""

    def __init__(self, page: Page, output_dir: Path) -> None:
        super().__init__(page, output_dir)
        self.json_pages: list[str] = []
        page.on("response", self._note_json_page)

    def _note_json_page(self, response: Response) -> None:
        if response.request.is_navigation_request() and "json" in (
            response.headers.get("content-type", "")
        ):
            self.json_pages.append(f"{response.status} {response.url}")


@pytest.fixture
async def browser(tmp_path: Path, output_dir: Path) -> AsyncIterator[PageBrowser]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 800},
            locale="en-GB",
            timezone_id=ZONE,
        )
        context.set_default_timeout(STEP)
        context.set_default_navigation_timeout(STEP)
        expect.set_options(timeout=STEP)
        try:
            student = PageBrowser(await context.new_page(), output_dir)
            yield student
            assert student.server_errors == []
            assert student.json_pages == []
        finally:
            await context.close()


async def open_schedule(
    browser: Browser, system: System, parties: Parties, contract_id: str
) -> None:
    """Sign in, open the contract's schedule, and wait until scheduling knows it is paid."""
    page = browser.page
    await browser.sign_in(
        system, parties.student.token, f"/contracts/{contract_id}", parties.student.name
    )
    await page.goto(f"{system.url('scheduling')}/contracts/{contract_id}/schedule")
    await browser.reload_until(lambda: heading(page, "Book a session"))


async def book(page: Page, day: str, time: str, minutes: str = "60") -> Response:
    """Fill in the picker and book; the answer to the form."""
    await page.get_by_label("Date").fill(day)
    await page.get_by_label("Time", exact=True).fill(time)
    await page.get_by_label("Duration").select_option(minutes)
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Book the session").click()
    return await answer.value


async def test_booking_through_the_picker_refusals_in_the_form_and_a_confirmed_cancel(
    system: System, parties: Parties, emulator: Emulator, browser: PageBrowser
) -> None:
    paid = await paid_contract(parties, emulator)
    contract_id = paid.contract["id"]
    page = browser.page
    await open_schedule(browser, system, parties, contract_id)
    await expect(page.get_by_text(f"Times are shown in {ZONE}")).to_be_visible()
    await expect(page.locator("#when-hint")).to_contain_text(ZONE)
    await browser.shot("schedule-empty")

    day = (datetime.now(UTC) + timedelta(days=3)).date()
    answer = await book(page, day.isoformat(), "10:00")
    assert answer.status == 303
    await expect(page).to_have_url(f"{system.url('scheduling')}/contracts/{contract_id}/schedule")
    starts = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo(ZONE))
    row = page.get_by_role("row", name=re.compile("10:00"))
    await expect(row).to_contain_text("60 minutes")
    stored = await row.locator("time").get_attribute("datetime")
    assert stored is not None
    assert datetime.fromisoformat(stored) == starts
    await expect(page.get_by_text("1 of 4 sessions scheduled")).to_be_visible()
    await browser.shot("session-booked")

    # An overlap: the form comes back with the refusal beside the time, the values kept.
    answer = await book(page, day.isoformat(), "10:30", "90")
    assert answer.status == 409
    await expect(page.locator("#when-error")).to_contain_text("overlapping that time")
    await expect(page.get_by_label("Date")).to_have_value(day.isoformat())
    await expect(page.get_by_label("Time", exact=True)).to_have_value("10:30")
    await expect(page.get_by_label("Duration")).to_have_value("90")
    await expect(page.get_by_label("Time", exact=True)).to_have_attribute("aria-invalid", "true")
    await browser.shot("booking-overlap")

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    answer = await book(page, yesterday, "09:00")
    assert answer.status == 422
    await expect(page.locator("#when-error")).to_contain_text("That time has passed")
    await expect(page.get_by_label("Date")).to_have_value(yesterday)
    await browser.shot("booking-past")

    later = (datetime.now(UTC) + timedelta(days=4)).date().isoformat()
    assert (await book(page, later, "18:15", "45")).status == 303
    await expect(page.get_by_text("2 of 4 sessions scheduled")).to_be_visible()

    # Cancel asks first, on a page of its own; the keyboard alone takes it.
    first = page.get_by_role("row", name=re.compile("10:00"))
    await first.get_by_role("link", name="Cancel this session").click()
    await expect(heading(page, "Cancel this session?")).to_be_visible()
    await expect(page.get_by_role("main")).to_contain_text("10:00")
    await expect(page.get_by_role("link", name="No, keep it")).to_be_visible()
    await browser.shot("cancel-confirmation")
    await page.get_by_role("button", name="Yes, cancel it").focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{system.url('scheduling')}/contracts/{contract_id}/schedule")
    await expect(heading(page, "Cancelled sessions")).to_be_visible()
    await expect(page.get_by_text("You cancelled this session.")).to_be_visible()
    await expect(page.get_by_text("1 of 4 sessions scheduled")).to_be_visible()
    await expect(page.get_by_text("cancelled by the student")).to_have_count(0)
    await browser.shot("session-cancelled")

    # Their sessions across contracts, from the header: the one to come, in their time zone.
    await page.get_by_role("navigation").get_by_role("link", name="Sessions").click()
    await expect(page).to_have_url(f"{system.url('scheduling')}/sessions")
    await expect(heading(page, "Your sessions")).to_be_visible()
    link = page.get_by_role("navigation").get_by_role("link", name="Sessions")
    await expect(link).to_have_attribute("aria-current", "page")
    kept = page.get_by_role("row", name=re.compile("18:15"))
    await expect(kept).to_contain_text("45 minutes")
    await expect(kept.get_by_role("link", name="Endgame technique")).to_have_attribute(
        "href", f"/contracts/{contract_id}/schedule"
    )
    cancelled = page.get_by_role("row", name=re.compile("10:00"))
    await expect(cancelled).to_contain_text("You cancelled this session.")
    await expect(page.get_by_text(f"Times are shown in {ZONE}")).to_be_visible()
    await browser.shot("my-sessions")


async def test_checkout_lists_the_sessions_and_a_paid_pay_page_says_so(
    system: System, parties: Parties, browser: PageBrowser
) -> None:
    contract = await pending_contract(parties)
    contract_id = contract["id"]
    page = browser.page
    await browser.sign_in(
        system, parties.student.token, f"/contracts/{contract_id}", parties.student.name
    )
    pay_page = f"{system.url('payments')}/contracts/{contract_id}/pay"
    await page.goto(pay_page)
    await browser.reload_until(lambda: heading(page, "Pay for your coaching"))
    await expect(page.get_by_text("After paying you come back here")).to_be_visible()
    await browser.shot("pay-page")

    await pay_button(page).click()
    await expect(heading(page, "Pay €180.00")).to_be_visible()
    line = page.get_by_role("row", name=re.compile("Endgame technique"))
    await expect(line).to_contain_text("4 sessions \N{MULTIPLICATION SIGN} €45.00")
    await expect(line).to_contain_text("€180.00")
    await expect(page.get_by_text("Qty")).to_have_count(0)
    await browser.shot("checkout-line-item")

    await pay_with(browser, "Card 4242 4242 4242 4242")
    await expect(heading(page, "Thank you, your payment is confirmed")).to_be_visible()
    footer = page.get_by_role("contentinfo")
    await expect(footer).to_contain_text(f"mention the contract reference {contract_id}")
    await browser.shot("payment-success")

    await page.goto(pay_page)
    await expect(page.get_by_text("This contract is already paid")).to_be_visible()
    await expect(page.get_by_text("After paying you come back here")).to_have_count(0)
    await expect(pay_button(page)).to_have_count(0)
    await expect(page.get_by_role("link", name="Schedule your sessions")).to_be_visible()
    await browser.shot("pay-page-paid")
