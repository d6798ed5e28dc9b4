"""Unsafe requests carried by the cookie come from the system's own pages, or are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from skileez_web.auth import COOKIE, TOKEN_RULES, Role, authenticate, mint_token
from skileez_web.openapi import Api
from skileez_web.problems import PROBLEM_JSON

from .service import PUBLIC_URL, SECRET, SYSTEM_URLS, build, settings_for, sign_in_database

api = Api("origins test")
changes: list[str] = []


@api.operation("POST", "/things", summary="Change something", responses={200: None, 403: None})
async def change_something(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[TOKEN_RULES])
    changes.append(principal.user_id)
    return web.json_response({"changed": True})


@pytest.fixture
async def client(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    changes.clear()
    settings = settings_for(await sign_in_database(create_database))
    async with TestClient(TestServer(build(api, settings))) as test_client:
        yield test_client


TOKEN = mint_token(SECRET, "student-1", Role.STUDENT)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://127.0.0.1:8001.evil.example"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {"Origin": PUBLIC_URL, "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_cookie_borne_change_from_another_site_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    refused = await client.post("/things", cookies={COOKIE: TOKEN}, headers=headers)
    assert refused.status == 403
    assert refused.content_type == PROBLEM_JSON
    assert (await refused.json())["code"] == "cross_site_request"
    page = await client.post(
        "/things", cookies={COOKIE: TOKEN}, headers={**headers, "Accept": "text/html"}
    )
    assert page.status == 403
    assert "This request came from another site" in await page.text()
    assert changes == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": PUBLIC_URL},
        {"Origin": SYSTEM_URLS["payments_url"]},  # a page of another service of the system
        {"Origin": SYSTEM_URLS["scheduling_url"] + "/", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {},  # curl: neither header
    ],
)
async def test_a_cookie_borne_change_from_the_systems_own_pages_or_no_browser_passes(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = await client.post("/things", cookies={COOKIE: TOKEN}, headers=headers)
    assert answer.status == 200
    assert changes == ["student-1"]


async def test_a_bearer_token_carries_its_own_credentials_from_any_origin(
    client: TestClient,
) -> None:
    answer = await client.post(
        "/things",
        headers={"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"},
    )
    assert answer.status == 200
    # Another scheme in Authorization does not stand in for a token: the cookie is used, checked.
    refused = await client.post(
        "/things",
        cookies={COOKIE: TOKEN},
        headers={"Authorization": "Basic eDp5", "Origin": "https://evil.example"},
    )
    assert refused.status == 403


async def test_safe_requests_are_not_checked(client: TestClient) -> None:
    answer = await client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert answer.status == 200


async def test_no_page_of_another_site_may_frame_ours(client: TestClient) -> None:
    """A framed sign-in or payment form would post with our own Origin (clickjacking)."""
    for answer in (
        await client.get("/health/live"),
        await client.get("/auth/session?code=unknown", headers={"Accept": "text/html"}),
        await client.get("/docs"),
    ):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
