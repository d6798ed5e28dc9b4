"""The first pay page in a real browser: a contract created from a browser form lands on
payments before payments has learnt it from ContractCreated; the student sees a page that says
the payment is being prepared and refreshes itself into the Pay button, never a 404.

Payments is made to learn the contract late on purpose: the test holds an EXCLUSIVE lock on
payments' `contracts` table, which lets the pay page read it (plain SELECTs) but keeps the
ContractCreated consumer's insert waiting until the lock is released, as a slow broker or a
busy consumer would. Screenshots go to `test-output/e2e/<test>/`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, Response, async_playwright, expect
from sqlalchemy import make_url
from test_browser import CHROMIUM, CHROMIUM_ARGS, STEP, Browser, heading, pay_button

from skileez_system.client import Parties
from skileez_system.system import System

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)

PREPARING = "Your payment page is being prepared"


@pytest.fixture
async def student_browser(tmp_path: Path, output_dir: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 800},
            locale="en-GB",
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


async def accepted_proposal(parties: Parties) -> str:
    proposal = await parties.coach.call(
        "POST",
        "contracts",
        "/proposals",
        {
            "student_id": parties.student.user_id,
            "title": "Endgame technique",
            "session_count": 4,
            "price_per_session": 4_500,
            "currency": "eur",
        },
    )
    assert proposal.status == 201, proposal.body
    accepted = await parties.student.call(
        "POST", "contracts", f"/proposals/{proposal.body['id']}/accept"
    )
    assert accepted.status == 200, accepted.body
    proposal_id: str = proposal.body["id"]
    return proposal_id


async def submit_contract_form(page: Page, system: System, proposal_id: str) -> None:
    """A plain HTML form on the contracts site, as a student's browser submits it."""
    await page.evaluate(
        """([action, proposalId]) => {
            document.body.innerHTML = `<form method="post" action="${action}">
              <input type="hidden" name="proposal_id" value="${proposalId}">
              <button type="submit">Create the contract</button></form>`;
        }""",
        [f"{system.url('contracts')}/contracts", proposal_id],
    )
    await page.get_by_role("button", name="Create the contract").click()


async def test_a_contract_made_in_the_browser_lands_on_preparing_then_pay_never_404(
    system: System, parties: Parties, student_browser: Browser
) -> None:
    browser, page = student_browser, student_browser.page
    payments = system.url("payments")
    pay_pages: list[tuple[int, str]] = []

    def on_response(response: Response) -> None:
        if response.url.startswith(payments) and "/pay" in response.url:
            pay_pages.append((response.status, response.url))

    page.on("response", on_response)
    proposal_id = await accepted_proposal(parties)
    await browser.sign_in(
        system, parties.student.token, f"/proposals/{proposal_id}", parties.student.name
    )

    dsn = make_url(system.database_url("payments")).set(drivername="postgresql")
    held = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        transaction = held.transaction()
        await transaction.start()
        await held.execute("LOCK TABLE contracts IN EXCLUSIVE MODE")  # ContractCreated waits

        await submit_contract_form(page, system, proposal_id)
        await expect(page).to_have_url(re.compile(rf"^{re.escape(payments)}/contracts/.+/pay"))
        await expect(heading(page, PREPARING)).to_be_visible()
        await expect(page.get_by_role("status")).to_contain_text("refreshes by itself")
        await expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute(
            "content", re.compile(r"^\d+;url=/contracts/.+/pay\?waiting_since=\d+$")
        )
        await browser.shot("preparing")
        # It asks again by itself, and keeps saying so while the contract is on its way.
        await page.wait_for_url(re.compile(r"waiting_since=\d+"))
        await expect(heading(page, PREPARING)).to_be_visible()
        await transaction.commit()  # the consumer goes on: payments learns the contract
    finally:
        await held.close()

    await expect(heading(page, "Pay for your coaching")).to_be_visible(timeout=30_000)
    await expect(pay_button(page)).to_have_text(re.compile(r"^Pay .*180\.00"))
    await browser.shot("pay-button")
    assert pay_pages, "the browser never reached the pay page"
    assert all(status == 200 for status, _ in pay_pages), pay_pages

    await pay_button(page).click()
    await expect(page).to_have_url(re.compile(rf"^{re.escape(system.url('emulator'))}/c/pay/cs_"))
    await expect(heading(page, "Pay €180.00")).to_be_visible()
    await browser.shot("checkout")
