"""The demo command, run as a user would against a running system: every link it prints works."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import aiohttp

from skileez_system.system import System


async def test_the_demo_prints_sign_in_links_that_open_every_page_of_the_flow(
    system: System,
) -> None:
    env = {
        **os.environ,
        "JWT_SECRET": system.config.jwt_secret,
        **{
            f"{name.upper()}_URL": system.url(name)
            for name in ("contracts", "payments", "scheduling")
        },
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "skileez_system", "demo", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    links = re.findall(r"http://\S+/auth/session\?\S+", out.decode())
    assert len(links) >= 6

    for link in links:
        # A fresh browser per link: each signs in as its own user (cookies are per host).
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as browser,
            browser.get(link, headers={"Accept": "text/html"}) as page,
        ):
            body = await page.text()
            assert page.status == 200, (link, page.status, body[:300])
            assert "<html" in body.lower() or page.content_type == "application/json", link
