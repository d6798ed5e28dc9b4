"""The one look: every refusal a browser meets is the shared error page with a way forward,
the header names who is signed in, and every service serves the one stylesheet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from skileez_web.auth import COOKIE, TOKEN_RULES, Role, authenticate, mint_token
from skileez_web.negotiation import wants_html
from skileez_web.openapi import Api
from skileez_web.pages import STYLESHEET_PATH, STYLESHEET_URL
from skileez_web.problems import PROBLEM_JSON, Problem

from .service import SECRET, build, settings_for, sign_in_database

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CONTRACTS = "http://127.0.0.1:8001/contracts"

api = Api("pages test")


@api.operation(
    "GET",
    "/refusals/{status}",
    summary="Refuse with the status asked for",
    responses={401: None, 403: None, 404: None, 409: None, 422: None, 429: None},
    auth=False,
)
async def refuse(request: web.Request) -> web.Response:
    status = int(request.match_info["status"])
    headers = {"Retry-After": "7"} if status == 429 else None
    raise Problem(status, f"refused_{status}", f"Refused with {status}.", headers=headers)


@api.operation("GET", "/mine", summary="The caller's own", responses={200: None, 401: None})
async def mine(request: web.Request) -> web.Response:
    return web.json_response({"user": authenticate(request, request.app[TOKEN_RULES]).user_id})


@api.operation("GET", "/crash", summary="A bug", responses={500: None}, auth=False)
async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


@pytest.fixture
async def client(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = settings_for(await sign_in_database(create_database))
    async with TestClient(TestServer(build(api, settings))) as test_client:
        yield test_client


def signed_in(role: Role, name: str | None = "Ana Silva") -> dict[str, str]:
    return {COOKIE: mint_token(SECRET, f"{role}-1", role, name=name)}


WAYS_FORWARD = {
    401: "Sign in again",
    403: "Back to your contracts",
    404: "check that it is complete",
    409: "Nothing was changed",
    422: "correct what is said above",
}


@pytest.mark.parametrize("status", sorted(WAYS_FORWARD))
async def test_a_browser_meets_a_refusal_as_the_shared_page_with_a_way_forward(
    client: TestClient, status: int
) -> None:
    page = await client.get(f"/refusals/{status}", headers=BROWSER, cookies=signed_in(Role.STUDENT))
    assert page.status == status
    assert page.content_type == "text/html"
    html = await page.text()
    assert f"Refused with {status}." in html
    assert WAYS_FORWARD[status] in html
    assert f'href="{CONTRACTS}"' in html
    assert f'<link rel="stylesheet" href="{STYLESHEET_URL}">' in html

    answer = await client.get(f"/refusals/{status}")
    assert answer.status == status
    assert answer.content_type == PROBLEM_JSON
    assert (await answer.json())["code"] == f"refused_{status}"


async def test_someone_not_signed_in_is_told_how_to_sign_in(client: TestClient) -> None:
    html = await (await client.get("/refusals/401", headers=BROWSER)).text()
    assert "Please sign in" in html
    assert "How to sign in" in html
    assert "Signed in as" not in html


@pytest.mark.parametrize(
    ("cookie", "library_words", "said"),
    [
        (
            mint_token(SECRET, "s-1", Role.STUDENT, ttl_seconds=-10),
            "access token",
            "no longer valid",
        ),
        ("not-a-token", "Not enough segments", "no longer valid"),
        (None, "An access token is required", "You are not signed in"),
    ],
)
async def test_a_refused_sign_in_is_told_in_words_and_not_in_the_librarys(
    client: TestClient, cookie: str | None, library_words: str, said: str
) -> None:
    cookies = {} if cookie is None else {COOKIE: cookie}
    page = await client.get("/mine", headers=BROWSER, cookies=cookies)
    assert page.status == 401
    html = await page.text()
    assert said in html
    assert library_words not in html
    assert "Sign in again" in html
    answer = await client.get("/mine", cookies=cookies)
    assert library_words in (await answer.json())["detail"]  # programs still get the details


async def test_a_crash_is_a_page_with_a_reference_and_no_internals(client: TestClient) -> None:
    page = await client.get("/crash", headers={**BROWSER, "X-Correlation-Id": "ref-42"})
    assert page.status == 500
    html = await page.text()
    assert "something went wrong on our side" in html
    assert "ref-42" in html
    assert "secret internals" not in html
    assert (await client.get("/crash")).content_type == PROBLEM_JSON


async def test_an_unknown_address_is_a_page_for_a_browser(client: TestClient) -> None:
    page = await client.get("/no/such/page", headers=BROWSER)
    assert (page.status, page.content_type) == (404, "text/html")
    assert "We cannot find this page" in await page.text()
    answer = await client.get("/no/such/page")
    assert (answer.status, answer.content_type) == (404, PROBLEM_JSON)


async def test_a_refusals_headers_reach_its_page(client: TestClient) -> None:
    page = await client.get("/refusals/429", headers=BROWSER)
    assert page.status == 429
    assert page.headers["Retry-After"] == "7"
    assert "Please wait a moment" in await page.text()


async def test_the_header_names_the_person_and_links_their_pages(client: TestClient) -> None:
    coach = await (
        await client.get("/refusals/404", headers=BROWSER, cookies=signed_in(Role.COACH, "Rui"))
    ).text()
    assert "Signed in as <strong>Rui</strong> (coach)" in coach
    for page in ("contracts", "proposals", "notifications"):
        assert f'href="http://127.0.0.1:8001/{page}"' in coach
    assert 'href="http://127.0.0.1:8003/sessions"' in coach

    student = await (
        await client.get("/refusals/404", headers=BROWSER, cookies=signed_in(Role.STUDENT))
    ).text()
    assert "Signed in as <strong>Ana Silva</strong> (student)" in student
    assert "/notifications" not in student  # only coaches are notified

    nameless = await (
        await client.get("/refusals/404", headers=BROWSER, cookies=signed_in(Role.STUDENT, None))
    ).text()
    assert "Signed in as <strong>student-1</strong> (student)" in nameless


async def test_every_service_serves_the_stylesheet_cacheably(client: TestClient) -> None:
    sheet = await client.get(STYLESHEET_URL)
    assert sheet.status == 200
    assert sheet.content_type == "text/css"
    assert sheet.headers["Cache-Control"] == "public, max-age=86400"
    assert ".button" in await sheet.text()
    again = await client.get(STYLESHEET_PATH, headers={"If-None-Match": sheet.headers["ETag"]})
    assert again.status == 304
    spec = await (await client.get("/openapi.json")).json()
    described = spec["paths"][STYLESHEET_PATH]["get"]["responses"]
    assert described["200"]["content"] == {"text/css": {"schema": {"type": "string"}}}


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER["Accept"], True),
        ("text/html", True),
        ("application/json", False),
        ("", False),
        ("*/*", False),
        ("application/json, text/html", False),
        ("text/html, application/json", True),
        ("application/problem+json", False),
    ],
)
def test_browsers_are_told_from_api_clients_by_what_they_accept(accept: str, html: bool) -> None:
    request = make_mocked_request("GET", "/", headers={"Accept": accept})
    assert wants_html(request) is html
