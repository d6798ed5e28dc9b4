"""`GET /docs` on every running service: its OpenAPI document as a page, read in a browser.

The browser test keeps its screenshots under `test-output/e2e/<test>/`.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, async_playwright, expect
from test_browser import CHROMIUM, CHROMIUM_ARGS, STEP

from skileez_system.system import SERVICES, System

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run)"
)


async def test_every_service_lists_each_operation_of_its_openapi_document(
    system: System, http: aiohttp.ClientSession
) -> None:
    for service in SERVICES:
        base = system.url(service)
        async with http.get(f"{base}/openapi.json") as response:
            spec = await response.json()
        async with http.get(f"{base}/docs") as response:
            assert response.status == 200, service
            assert response.content_type == "text/html"
            page = await response.text()
        words = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert f"{spec['info']['title']} API" in words
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                anchor = f'id="{operation["operationId"]}"'
                assert anchor in page, (service, method, path)
                assert operation["summary"].replace("`", "") in words, (service, path)
        for schema in spec["components"]["schemas"]:
            assert f'id="schema-{schema}"' in page, (service, schema)


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(STEP)
        try:
            yield await context.new_page()
        finally:
            await browser.close()


async def test_the_docs_page_reads_well_in_a_browser_and_loads_nothing_from_elsewhere(
    system: System, page: Page, output_dir: Path
) -> None:
    base = system.url("payments")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console_errors: list[str] = []
    page.on(
        "console", lambda message: message.type == "error" and console_errors.append(message.text)
    )

    response = await page.goto(f"{base}/docs")
    assert response is not None
    assert response.status == 200
    await expect(page.get_by_role("heading", name="Skileez payments API", level=1)).to_be_visible()
    await page.screenshot(path=output_dir / "01-docs-top.png")
    await page.screenshot(path=output_dir / "02-docs-full.png", full_page=True)

    # The contents lead to an operation; its answer's schema leads to the schema.
    await page.get_by_role("link", name="/payments/{id}/refunds").click()
    operation = page.locator("#post_payments_id_refunds")
    await expect(operation).to_be_in_viewport()
    await expect(operation.get_by_role("cell", name="202", exact=True)).to_be_visible()
    await operation.get_by_role("link", name="RefundIn").click()
    await expect(page.locator("#schema-RefundIn")).to_be_in_viewport()
    await page.screenshot(path=output_dir / "03-docs-schema.png")

    assert requested
    assert all(url.startswith(f"{base}/docs") for url in requested), requested
    assert console_errors == []
