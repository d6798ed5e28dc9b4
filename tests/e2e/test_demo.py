"""The demo command, run as a user would against a running system: every link it prints works."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from skileez_system.system import System

CLAIMS = {"JWT_AUDIENCE": "skileez", "JWT_ISSUER": "skileez-e2e-demo"}


async def test_the_demo_prints_sign_in_links_that_open_every_page_of_the_flow(
    start_system: Callable[..., Any],
) -> None:
    """On a system that checks `aud` and `iss`: the demo's tokens and the cookies the links
    set carry them."""
    system: System = await start_system(
        extra_env={
            service: CLAIMS for service in ("contracts", "payments", "scheduling", "backoffice")
        }
    )
    env = {
        **os.environ,
        **CLAIMS,
        "JWT_SECRET": system.config.jwt_secret,
        **{
            f"{name.upper()}_URL": system.url(name)
            for name in ("contracts", "payments", "scheduling", "backoffice")
        },
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "skileez_system", "demo", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    links = re.findall(r"http://\S+/auth/session\?\S+", out.decode())
    assert len(links) >= 6
    assert not any("token=" in link for link in links)  # a code, never the token itself

    for link in links:
        # A fresh browser per link: each signs in as its own user (cookies are per host).
        url = URL(link)
        own_page = {"Accept": "text/html", "Origin": str(url.origin())}
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(link, headers=own_page) as confirmation:
                body = await confirmation.text()
                assert confirmation.status == 200, (link, confirmation.status, body[:300])
                assert re.search(r"Continue as (Ana Silva|Coach Rui|Admin Eva) \(", body), link
            form = {"code": url.query["code"], "next": url.query["next"]}
            confirm = url.with_path("/auth/session").with_query(None)
            async with browser.post(confirm, data=form, headers=own_page) as page:
                body = await page.text()
                assert page.status == 200, (link, page.status, body[:300])
                assert page.url.path_qs == url.query["next"], link
                assert "<html" in body.lower() or page.content_type == "application/json", link
            async with browser.post(confirm, data=form, headers=own_page) as again:
                assert again.status == 401, link  # a link works once
