"""The whole walk, as a coach and a student take it in Chromium, every page a page.

A coach makes a proposal from the form; the student reads and accepts it, takes the contract,
pays on the emulator's checkout, books two sessions with the date and time picker, meets an
overlap and a past time shown in the form, and cancels one after confirming; the coach reads
the notification with the student's name. Every page is screenshotted
(`test-output/e2e/<test>/NN-who-page.png`, a phone-width copy of some) and checked: no
navigation ends on JSON, and axe-core (vendored in tests/e2e/axe) finds no serious or critical
accessibility violation.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, Response, async_playwright, expect

from skileez_system.client import Actor, Parties
from skileez_system.system import System

CHROMIUM = Path("/usr/bin/chromium")
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
AXE = Path(__file__).parent / "axe" / "axe.min.js"
STEP = 15_000  # ms Playwright waits for a page, an element or an assertion
EVENTUALLY = 30.0  # s for an asynchronous effect (an event consumed, a webhook handled)
DESKTOP = {"width": 1000, "height": 800}
PHONE = {"width": 390, "height": 844}
TIME_ZONE = "Europe/Lisbon"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)


class Walker:
    """One person's browser: its page, and what every page it reaches is checked for."""

    def __init__(self, page: Page, who: str, shots: Callable[[str], Path]) -> None:
        self.page = page
        self.who = who
        self._shots = shots
        self.json_navigations: list[str] = []
        self.server_errors: list[str] = []
        self.violations: list[str] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        request = response.request
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            content_type = response.headers.get("content-type", "")
            if "json" in content_type:
                self.json_navigations.append(f"{response.status} {content_type} {response.url}")

    async def shot(self, name: str, *, phone: bool = False) -> None:
        """Screenshot the page (and at a phone's width too) after its accessibility pass."""
        await self.check_accessibility(name)
        await self.page.screenshot(path=self._shots(f"{self.who}-{name}"), full_page=True)
        if phone:
            await self.page.set_viewport_size(PHONE)
            await self.page.screenshot(path=self._shots(f"{self.who}-{name}-phone"), full_page=True)
            await self.page.set_viewport_size(DESKTOP)

    async def check_accessibility(self, name: str) -> None:
        await self.page.add_script_tag(path=AXE)
        found: list[dict[str, Any]] = await self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        for violation in found:
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.violations.append(
                    f"{self.who}/{name}: {violation['id']} ({violation['impact']}):"
                    f" {violation['help']} at {targets}"
                )

    async def sign_in(self, system: System, actor: Actor, role: str, next_path: str) -> None:
        """Follow a sign-in link the contracts service gives for the actor's token."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{system.url('contracts')}/auth/codes",
                json={"next": next_path},
                headers={"Authorization": f"Bearer {actor.token}"},
            ) as response,
        ):
            assert response.status == 201, await response.text()
            link = (await response.json())["url"]
        await self.page.goto(link)
        await self.shot("sign-in")
        await self.page.get_by_role("button", name=f"Continue as {actor.name} ({role})").click()
        await expect(self.page).to_have_url(f"{system.url('contracts')}{next_path}")
        banner = self.page.get_by_role("banner")
        await expect(banner).to_contain_text(f"Signed in as {actor.name} ({role})")

    async def reload_until(self, shown: Callable[[], Locator], timeout: float = EVENTUALLY) -> None:
        """Reload the page until `shown()` is visible, as a person waiting for news would."""
        deadline = time.monotonic() + timeout
        while not await shown().is_visible():
            if time.monotonic() > deadline:
                await expect(shown()).to_be_visible(timeout=1)  # fails with Playwright's message
            await asyncio.sleep(0.5)
            await self.page.reload()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def shots(output_dir: Path) -> Callable[[str], Path]:
    for old in output_dir.glob("[0-9][0-9]-*.png"):  # an earlier run's screenshots
        old.unlink()
    taken = 0

    def next_path(name: str) -> Path:
        nonlocal taken
        taken += 1
        return output_dir / f"{taken:02d}-{name}.png"

    return next_path


async def walker(chromium: Browser, who: str, shots: Callable[[str], Path]) -> Walker:
    """A browser of its own (cookies are per host, and every service is on 127.0.0.1)."""
    context = await chromium.new_context(viewport=DESKTOP, locale="en-GB", timezone_id=TIME_ZONE)
    context.set_default_timeout(STEP)
    context.set_default_navigation_timeout(STEP)
    return Walker(await context.new_page(), who, shots)


def heading(page: Page, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("heading", name=name)


async def book(page: Page, day: datetime, at: str) -> None:
    await page.get_by_label("Date").fill(day.strftime("%Y-%m-%d"))
    await page.get_by_label("Time").fill(at)
    await page.get_by_label("Duration").select_option("60")
    await page.get_by_role("button", name="Book the session").click()


async def test_a_coach_and_a_student_walk_the_whole_flow_in_pages(
    system: System, parties: Parties, chromium: Browser, shots: Callable[[str], Path]
) -> None:
    expect.set_options(timeout=STEP)
    contracts, scheduling = system.url("contracts"), system.url("scheduling")
    coach = await walker(chromium, "coach", shots)
    student = await walker(chromium, "student", shots)

    # The coach proposes from the form; a price with a comma is shown back beside its field.
    await coach.sign_in(system, parties.coach, "coach", "/proposals/new")
    page = coach.page
    await expect(heading(page, "Make a proposal")).to_be_visible()
    await page.get_by_label("Student").fill(parties.student.user_id)
    await page.get_by_label("Title").fill("Interview coaching")
    await page.get_by_label("Description (optional)").fill("Mock interviews and feedback.")
    await page.get_by_label("Number of sessions").fill("4")
    await page.get_by_label("Price per session").fill("45,00")
    await page.get_by_label("Currency").select_option("eur")
    await page.get_by_role("button", name="Send the proposal").click()
    await expect(page.locator("#price_per_session-error")).to_contain_text("e.g. 45.00")
    await expect(page.get_by_label("Title")).to_have_value("Interview coaching")
    await coach.shot("proposal-form-refused", phone=True)
    await page.get_by_label("Price per session").fill("45.00")
    await page.get_by_role("button", name="Send the proposal").click()
    await expect(heading(page, "Interview coaching")).to_be_visible()
    await expect(
        page.get_by_text(f"Waiting for {parties.student.user_id} to answer")
    ).to_be_visible()
    await coach.shot("proposal-sent")

    # The student reads it among their proposals, accepts, and takes the contract.
    await student.sign_in(system, parties.student, "student", "/proposals")
    page = student.page
    await expect(page.get_by_text("From Coach Rui")).to_be_visible()
    await student.shot("proposals")
    await page.get_by_role("link", name="Interview coaching").click()
    await expect(page.get_by_text("€180.00").first).to_be_visible()
    await student.shot("proposal", phone=True)
    await page.get_by_role("button", name="Accept the proposal").click()
    await expect(page.locator("#proposal-status")).to_have_text("accepted")
    await student.shot("proposal-accepted")
    await page.get_by_role("button", name="Take the contract and pay").click()

    # Payments learns the contract from ContractCreated: its page says so until then.
    await student.reload_until(lambda: heading(page, "Pay for your coaching"))
    contract_id = re.search(r"/contracts/([0-9a-f-]{36})/pay", page.url).group(1)  # type: ignore[union-attr]
    await student.shot("pay")
    await page.get_by_role("button", name=re.compile(r"^Pay .*180\.00")).click()
    await expect(page.get_by_text("Test mode")).to_be_visible()
    await student.shot("checkout", phone=True)
    await page.get_by_label("Card 4242 4242 4242 4242").check()
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await expect(heading(page, "Thank you, your payment is confirmed")).to_be_visible()
    await student.shot("payment-confirmed")

    # The contract turns active by events; then the sessions are booked with the picker.
    await page.goto(f"{contracts}/contracts/{contract_id}")
    await student.reload_until(lambda: heading(page, "Next steps"))
    await expect(page.get_by_text("Coach Rui")).to_be_visible()
    await student.shot("contract-active", phone=True)
    await page.get_by_role("link", name="the contract's sessions").click()
    await expect(page).to_have_url(f"{scheduling}/contracts/{contract_id}/schedule")
    await expect(heading(page, "Book a session")).to_be_visible()
    await expect(page.get_by_text(TIME_ZONE).first).to_be_visible()
    await student.shot("schedule", phone=True)

    first_day = datetime.now(UTC) + timedelta(days=3)
    await book(page, first_day, "10:00")
    await expect(page.get_by_text("1 of 4 sessions scheduled")).to_be_visible()
    await book(page, first_day + timedelta(days=7), "10:00")
    await expect(page.get_by_text("2 of 4 sessions scheduled")).to_be_visible()
    await student.shot("two-sessions-booked")

    await book(page, first_day, "10:30")  # overlaps the first
    await expect(page.locator("#when-error")).to_contain_text("overlapping")
    await expect(page.get_by_label("Time")).to_have_value("10:30")
    await expect(page.get_by_text("2 of 4 sessions scheduled")).to_be_visible()
    await student.shot("overlap-refused")

    await book(page, datetime.now(UTC) - timedelta(days=2), "10:00")  # in the past
    await expect(page.locator("#when-error")).to_be_visible()
    await expect(page.get_by_label("Date")).to_have_value(
        (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d")
    )
    await student.shot("past-time-refused")

    await page.goto(f"{scheduling}/contracts/{contract_id}/schedule")
    await page.get_by_role("link", name="Cancel this session").first.click()
    await expect(heading(page, "Cancel this session?")).to_be_visible()
    await student.shot("cancel-confirmation")
    await page.get_by_role("button", name="Yes, cancel it").click()
    await expect(page.get_by_text("You cancelled this session.")).to_be_visible()
    await expect(page.get_by_text("1 of 4 sessions scheduled")).to_be_visible()
    await student.shot("session-cancelled")

    # The coach reads, in words, who paid what for which sessions.
    page = coach.page
    await page.get_by_role("banner").get_by_role("link", name="Notifications").click()
    news = "Ana Silva paid €180.00 for Interview coaching (4 sessions)"
    await coach.reload_until(lambda: page.get_by_text(news))
    await expect(page.get_by_text("New", exact=True)).to_be_visible()
    await coach.shot("notifications", phone=True)
    await page.get_by_role("link", name="See the contract").first.click()
    await expect(page.get_by_text("Ana Silva")).to_be_visible()
    await coach.shot("contract")
    await page.get_by_role("banner").get_by_role("link", name="Contracts").click()
    await expect(heading(page, "Your contracts")).to_be_visible()
    await coach.shot("contracts")

    # Where things go wrong, a page says so and offers a way on; a stranger learns to sign in.
    page = student.page
    await page.goto(f"{contracts}/contracts/{uuid.uuid4()}")
    await expect(heading(page, "We cannot find this contract")).to_be_visible()
    await student.shot("not-found", phone=True)
    await page.get_by_role("link", name="Back to your contracts").click()
    await expect(heading(page, "Your contracts")).to_be_visible()
    await student.shot("contracts")
    stranger = await walker(chromium, "stranger", shots)
    await stranger.page.goto(f"{contracts}/")
    await expect(heading(stranger.page, "Welcome to Skileez")).to_be_visible()
    await stranger.shot("home")
    await stranger.page.goto(f"{contracts}/notifications")
    await expect(heading(stranger.page, "Please sign in")).to_be_visible()
    await stranger.shot("not-signed-in")

    for person in (coach, student, stranger):
        assert person.json_navigations == [], person.json_navigations
        assert person.server_errors == [], person.server_errors
    assert coach.violations + student.violations + stranger.violations == []
