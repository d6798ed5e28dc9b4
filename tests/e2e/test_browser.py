"""The pages in a real browser: headless Chromium clicks through contract, payment, checkout.

Debian's `/usr/bin/chromium`, driven by Playwright's own driver (no browser download). The
student signs in once through a sign-in link of the contracts service (a code asked for with
their token, then the confirmation page); the cookie is per host, so it covers every service
on 127.0.0.1. Every page visited is kept as a screenshot
under the test's output folder (`test-output/e2e/<test>/NN-name.png`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import (
    BrowserContext,
    Locator,
    Page,
    Response,
    async_playwright,
    expect,
)

from skileez_system.client import Parties, pending_contract
from skileez_system.system import System

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches for Google's servers: this machine has no network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP = 15_000  # ms Playwright waits for a page, an element or an assertion
EVENTUALLY = 30.0  # s for an asynchronous effect (an event consumed, a webhook handled)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)


class Browser:
    """One student's browser: a page, the screenshots taken, and every server error seen."""

    def __init__(self, page: Page, output_dir: Path) -> None:
        self.page = page
        self._output_dir = output_dir
        for old in output_dir.glob("[0-9][0-9]-*.png"):  # an earlier run's screenshots
            old.unlink()
        self._shots = 0
        self.server_errors: list[str] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")

    async def shot(self, name: str) -> Path:
        self._shots += 1
        path = self._output_dir / f"{self._shots:02d}-{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path

    async def sign_in(self, system: System, token: str, next_path: str, who: str) -> str:
        """Follow a sign-in link the contracts service gave for `token`, confirm; the link."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{system.url('contracts')}/auth/codes",
                json={"next": next_path},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status == 201, await response.text()
            link = (await response.json())["url"]
        await self.page.goto(link)
        await expect(heading(self.page, "Sign in to Skileez")).to_be_visible()
        confirm = self.page.get_by_role("button", name=f"Continue as {who} (student)")
        await expect(confirm).to_be_visible()
        await self.shot("sign-in")
        await confirm.click()
        await expect(self.page).to_have_url(f"{system.url('contracts')}{next_path}")
        return str(link)

    async def reload_until(self, shown: Callable[[], Locator], timeout: float = EVENTUALLY) -> None:
        """Reload the page until `shown()` is visible, as a person waiting for news would."""
        deadline = time.monotonic() + timeout
        while True:
            if await shown().is_visible():
                return
            if time.monotonic() > deadline:
                await expect(shown()).to_be_visible(timeout=1)  # fails with Playwright's message
            await asyncio.sleep(0.5)
            await self.page.reload()


@pytest.fixture
async def browser_context(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",  # a fresh profile every test
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 800},
            locale="en-GB",
            timezone_id="UTC",  # the schedule shows times in the browser's zone
        )
        context.set_default_timeout(STEP)
        context.set_default_navigation_timeout(STEP)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def browser(browser_context: BrowserContext, output_dir: Path) -> AsyncIterator[Browser]:
    expect.set_options(timeout=STEP)
    page = await browser_context.new_page()
    student_browser = Browser(page, output_dir)
    yield student_browser
    assert student_browser.server_errors == []


def heading(page: Page, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("heading", name=name)


def pay_button(page: Page) -> Locator:
    """Pay: a link on the contract page, a button on the payment and checkout pages."""
    name = re.compile(r"^Pay ")
    return page.get_by_role("button", name=name).or_(page.get_by_role("link", name=name))


async def open_contract_then_checkout(
    browser: Browser, system: System, parties: Parties, contract_id: str
) -> None:
    """Sign in on the contract page, then on to Stripe's checkout page."""
    page = browser.page
    await browser.sign_in(
        system, parties.student.token, f"/contracts/{contract_id}", parties.student.name
    )
    await expect(heading(page, "Endgame technique")).to_be_visible()
    await expect(page.get_by_text("pending").first).to_be_visible()
    await browser.shot("contract-pending")
    await pay_from_the_contract_page(browser, system, contract_id)


async def pay_from_the_contract_page(browser: Browser, system: System, contract_id: str) -> None:
    """Pay on the contract page, then Pay on the payment page: Stripe's checkout page."""
    page = browser.page
    await expect(pay_button(page)).to_have_text(re.compile(r"^Pay .*180\.00"))
    await pay_button(page).click()
    await expect(page).to_have_url(f"{system.url('payments')}/contracts/{contract_id}/pay")
    # Payments learns the contract from ContractCreated: until then the page says so.
    await browser.reload_until(lambda: heading(page, "Pay for your coaching"))
    await expect(page.get_by_text("€180.00").first).to_be_visible()
    await browser.shot("payment-page")

    await pay_button(page).click()
    await expect(page).to_have_url(re.compile(rf"^{re.escape(system.url('emulator'))}/c/pay/cs_"))
    await expect(heading(page, "Pay €180.00")).to_be_visible()
    await expect(page.get_by_text("Test mode")).to_be_visible()
    await browser.shot("checkout")


async def pay_with(browser: Browser, card: str) -> None:
    page = browser.page
    await page.get_by_label(card).check()
    await pay_button(page).click()


async def see_payment_confirmed(browser: Browser, system: System, contract_id: str) -> None:
    page = browser.page
    await expect(page).to_have_url(
        re.compile(
            rf"^{re.escape(system.url('payments'))}/contracts/{contract_id}/payment-success\?"
        )
    )
    await expect(heading(page, "Thank you, your payment is confirmed")).to_be_visible()
    receipt = page.get_by_role("region", name="Receipt")
    await expect(receipt).to_contain_text("€180.00")
    await expect(receipt).to_contain_text("Endgame technique")
    await expect(page.get_by_role("link", name="Schedule your first session")).to_have_attribute(
        "href", f"{system.url('scheduling')}/contracts/{contract_id}/schedule"
    )
    await browser.shot("success")


async def see_contract_active(browser: Browser, system: System, contract_id: str) -> None:
    """From the payment page's header back to the contract; it turns active by events."""
    page = browser.page
    await page.get_by_role("main").get_by_role("link", name="Your contract").click()
    await expect(page).to_have_url(f"{system.url('contracts')}/contracts/{contract_id}")
    await browser.reload_until(lambda: heading(page, "Next steps"))
    await expect(page.get_by_text("The contract is paid and active")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    await browser.shot("contract-active")


async def test_pay_then_the_contract_is_active_and_a_session_can_be_booked(
    system: System, parties: Parties, browser: Browser
) -> None:
    contract = await pending_contract(parties)
    page = browser.page
    await open_contract_then_checkout(browser, system, parties, contract["id"])

    await pay_with(browser, "Card 4242 4242 4242 4242")
    await see_payment_confirmed(browser, system, contract["id"])
    await see_contract_active(browser, system, contract["id"])

    await page.get_by_role("link", name="the contract's sessions").click()
    await expect(page).to_have_url(
        f"{system.url('scheduling')}/contracts/{contract['id']}/schedule"
    )
    await expect(heading(page, "Book a session")).to_be_visible()
    await expect(page.get_by_text("No sessions yet.")).to_be_visible()
    await browser.shot("schedule")

    starts = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    # The browser's time zone is UTC (test_schedule_pages.py books in another one).
    await page.get_by_label("Date").fill(starts.date().isoformat())
    await page.get_by_label("Time", exact=True).fill(starts.strftime("%H:%M"))
    await page.get_by_label("Duration").select_option("60")
    await page.get_by_role("button", name="Book the session").click()

    await expect(page).to_have_url(
        f"{system.url('scheduling')}/contracts/{contract['id']}/schedule"
    )
    row = page.get_by_role("row", name=re.compile(starts.strftime("%H:%M")))
    await expect(row).to_contain_text("60 minutes")
    await expect(row.get_by_role("link", name="Cancel this session")).to_be_visible()
    await expect(page.get_by_text("1 of 4 sessions scheduled")).to_be_visible()
    await browser.shot("session-booked")

    sessions = await parties.student.call(
        "GET", "scheduling", f"/contracts/{contract['id']}/sessions"
    )
    assert [datetime.fromisoformat(s["starts_at"]) for s in sessions.body["sessions"]] == [starts]


async def test_a_declined_card_then_a_retry_that_succeeds(
    system: System, parties: Parties, browser: Browser
) -> None:
    contract = await pending_contract(parties)
    page = browser.page
    await open_contract_then_checkout(browser, system, parties, contract["id"])

    await pay_with(browser, "Card 4000 0000 0000 0002")
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Payment failed.")
    await expect(alert).to_contain_text("Your card was declined.")
    # Still on the checkout page, which still offers to pay with the card kept chosen.
    await expect(page.get_by_label("Card 4000 0000 0000 0002")).to_be_checked()
    await expect(pay_button(page)).to_be_enabled()
    await browser.shot("declined")

    # The student gives up for now; later, the contract page tells what happened.
    await page.goto(f"{system.url('contracts')}/contracts/{contract['id']}")
    await browser.reload_until(lambda: page.get_by_role("alert"))
    await expect(page.get_by_role("alert")).to_contain_text("The last payment attempt failed.")
    await expect(page.get_by_role("alert")).to_contain_text("You can try again.")
    await expect(heading(page, "Next steps")).to_have_count(0)
    await browser.shot("contract-payment-failed")

    await pay_from_the_contract_page(browser, system, contract["id"])
    await expect(page.get_by_role("alert")).to_have_count(0)  # a fresh page, no old error
    await pay_with(browser, "Card 4242 4242 4242 4242")
    await see_payment_confirmed(browser, system, contract["id"])
    await see_contract_active(browser, system, contract["id"])
    await expect(page.get_by_role("alert")).to_have_count(0)


async def test_going_back_from_checkout_shows_the_cancel_page_which_offers_a_retry(
    system: System, parties: Parties, browser: Browser
) -> None:
    contract = await pending_contract(parties)
    page = browser.page
    await open_contract_then_checkout(browser, system, parties, contract["id"])
    checkout_url = page.url

    await page.get_by_role("link", name=re.compile("Back")).click()
    await expect(page).to_have_url(
        f"{system.url('payments')}/contracts/{contract['id']}/payment-cancel"
    )
    await expect(heading(page, "You left the payment page")).to_be_visible()
    await expect(page.get_by_text("No money was taken")).to_be_visible()
    await expect(page.get_by_text("still pending")).to_be_visible()
    retry = page.get_by_role("button", name="Try paying again")
    await expect(retry).to_be_visible()
    await browser.shot("cancelled")

    # The contract is untouched: still pending, still payable.
    await page.goto(f"{system.url('contracts')}/contracts/{contract['id']}")
    await expect(pay_button(page)).to_be_visible()
    await expect(heading(page, "Next steps")).to_have_count(0)
    await browser.shot("contract-still-pending")

    await page.go_back()
    await page.get_by_role("button", name="Try paying again").click()
    # The open checkout session is reused: the same Stripe page as before.
    await expect(page).to_have_url(checkout_url)
    await expect(heading(page, "Pay €180.00")).to_be_visible()
    await browser.shot("checkout-again")


async def test_a_sign_in_link_works_once(
    system: System, parties: Parties, browser: Browser
) -> None:
    contract = await pending_contract(parties)
    page = browser.page
    path = f"/contracts/{contract['id']}"
    link = await browser.sign_in(system, parties.student.token, path, parties.student.name)
    await expect(heading(page, "Endgame technique")).to_be_visible()

    await page.goto(link)
    await expect(heading(page, "This sign-in link does not work any more")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("was already used or has expired")
    await browser.shot("sign-in-link-used")
