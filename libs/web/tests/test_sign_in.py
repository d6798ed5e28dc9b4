"""Sign-in links: a single-use code that expires, a confirmation page, the cookie set only by
the form posted from the service's own page, and `next` kept on this service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from skileez_web.auth import COOKIE, TOKEN_RULES, Role, authenticate, mint_token
from skileez_web.openapi import Api
from skileez_web.problems import PROBLEM_JSON
from skileez_web.settings import ServiceSettings
from skileez_web.sign_in import CODES_PER_USER, local_path

from .service import PUBLIC_URL, SECRET, build, settings_for, sign_in_database

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OWN_PAGE = {**BROWSER, "Origin": PUBLIC_URL}
FOREIGN_TARGETS = [
    "/%09/evil.com",
    "/%0d/evil.com",
    "/%0a/evil.com",
    "/%7f/evil.com",
    "/%2509/evil.com",
    "//evil.com",
    "/%2F/evil.com",
    "/\\evil.com",
    "/%5Cevil.com",
    "https://evil.com",
    "javascript:alert(1)",
    "evil.com",
    "/.//evil.com",
    "/a/..//evil.com",
    "/%2e%2e//evil.com",
]

api = Api("sign-in test")


@api.operation("GET", "/whoami", summary="The caller", responses={200: None, 401: None})
async def whoami(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[TOKEN_RULES])
    return web.json_response({"user_id": principal.user_id, "role": str(principal.role)})


@pytest.fixture
async def database_url(create_database: Callable[[str], Awaitable[str]]) -> str:
    return await sign_in_database(create_database)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build(api, settings_for(database_url)))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_code(client: TestClient, token: str, next_path: str = "/whoami") -> dict[str, Any]:
    response = await client.post("/auth/codes", json={"next": next_path}, headers=bearer(token))
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def confirm(
    client: TestClient, code: str, next_path: str = "/whoami", headers: dict[str, str] = OWN_PAGE
) -> Any:
    return await client.post(
        "/auth/session",
        data={"code": code, "next": next_path},
        headers=headers,
        allow_redirects=False,
    )


async def test_a_code_is_shown_then_confirmed_once_and_signs_the_browser_in(
    client: TestClient,
) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH, name="Ann Coach")
    issued = await new_code(client, token, "/whoami?from=link")
    link = urlsplit(issued["url"])
    assert f"{link.scheme}://{link.netloc}" == PUBLIC_URL
    assert parse_qs(link.query) == {"code": [issued["code"]], "next": ["/whoami?from=link"]}
    assert token not in issued["url"]
    expires_at = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(minutes=5) < expires_at - datetime.now(UTC) <= timedelta(minutes=10)

    page = await client.get(f"{link.path}?{link.query}", headers=BROWSER)
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    assert "Continue as Ann Coach (coach)" in html
    assert "<code>coach-1</code>" in html  # the account, not only a name anyone can take
    assert 'method="post" action="/auth/session"' in html
    assert COOKIE not in page.cookies  # showing the page signs no one in
    assert page.headers["Referrer-Policy"] == "same-origin"

    signed_in = await confirm(client, issued["code"], "/whoami?from=link")
    assert signed_in.status == 303
    assert signed_in.headers["Location"] == "/whoami?from=link"
    cookie = signed_in.cookies[COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    assert cookie.value != token  # minted afresh, expiring with the token the code came from
    assert (
        jwt.decode(cookie.value, SECRET, algorithms=["HS256"])["exp"]
        <= jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    )
    whoami = await client.get("/whoami", cookies={COOKIE: cookie.value})
    assert await whoami.json() == {"user_id": "coach-1", "role": "coach"}

    again = await confirm(client, issued["code"])
    assert again.status == 401
    assert "does not work any more" in await again.text()
    shown_again = await client.get(f"{link.path}?{link.query}", headers=BROWSER)
    assert shown_again.status == 401


async def test_the_page_names_the_user_id_when_the_token_has_no_name(client: TestClient) -> None:
    issued = await new_code(client, mint_token(SECRET, "student-7", Role.STUDENT))
    page = await client.get(urlsplit(issued["url"]).path, params={"code": issued["code"]})
    assert "Continue as student-7 (student)" in await page.text()


@pytest.mark.parametrize("code", ["nope", "x" * 100])
async def test_an_unknown_code_is_a_page_for_a_browser_and_a_problem_for_a_client(
    client: TestClient, code: str
) -> None:
    page = await client.get("/auth/session", params={"code": code}, headers=BROWSER)
    assert page.status == 401
    assert page.content_type == "text/html"
    assert "This sign-in link does not work any more" in await page.text()
    for answer in (
        await client.get("/auth/session", params={"code": code}),
        await confirm(client, code, headers={"Accept": "application/json"}),
    ):
        assert answer.status == 401
        assert answer.content_type == PROBLEM_JSON
        assert (await answer.json())["code"] == "invalid_sign_in_code"
        assert COOKIE not in answer.cookies


async def test_an_expired_code_signs_no_one_in(client: TestClient, database_url: str) -> None:
    issued = await new_code(client, mint_token(SECRET, "coach-1", Role.COACH))
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    db = await asyncpg.connect(dsn)
    try:
        await db.execute("UPDATE sign_in_codes SET expires_at = now() - interval '1 second'")
    finally:
        await db.close()
    assert (await client.get("/auth/session", params={"code": issued["code"]})).status == 401
    refused = await confirm(client, issued["code"])
    assert refused.status == 401
    assert COOKIE not in refused.cookies


async def test_a_code_expires_a_minute_before_the_token_it_came_from(client: TestClient) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH, ttl_seconds=120)
    issued = await new_code(client, token)
    token_expiry = jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    assert datetime.fromisoformat(issued["expires_at"]).timestamp() <= token_expiry - 60
    # A token about to expire gets no code: the cookie it would set would be dead on arrival.
    expiring = mint_token(SECRET, "coach-1", Role.COACH, ttl_seconds=30)
    refused = await client.post("/auth/codes", json={}, headers=bearer(expiring))
    assert (refused.status, (await refused.json())["code"]) == (401, "invalid_token")


async def test_a_person_holds_a_few_codes_at_most_each_new_one_replacing_the_oldest(
    client: TestClient, database_url: str
) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH)
    issued = [await new_code(client, token) for _ in range(CODES_PER_USER + 2)]
    await new_code(client, mint_token(SECRET, "coach-2", Role.COACH))  # another person's stays
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    db = await asyncpg.connect(dsn)
    try:
        held = await db.fetch("SELECT user_id, count(*) FROM sign_in_codes GROUP BY user_id")
    finally:
        await db.close()
    assert dict(held) == {"coach-1": CODES_PER_USER, "coach-2": 1}
    for replaced in issued[:2]:
        assert (await confirm(client, replaced["code"])).status == 401
    assert (await confirm(client, issued[-1]["code"])).status == 303


async def test_a_code_is_spent_once_across_replicas_under_concurrency(database_url: str) -> None:
    settings = settings_for(database_url)
    async with (
        TestClient(TestServer(build(api, settings))) as one,
        TestClient(TestServer(build(api, settings))) as two,
    ):
        issued = await new_code(one, mint_token(SECRET, "coach-1", Role.COACH))
        answers = await asyncio.gather(
            *(confirm(replica, issued["code"]) for replica in [one, two] * 10)
        )
        assert sorted(answer.status for answer in answers) == [303] + [401] * 19


async def test_a_code_needs_a_valid_token(client: TestClient) -> None:
    missing = await client.post("/auth/codes", json={})
    assert missing.status == 401
    forged = mint_token("another-secret-that-is-long-enough", "admin-1", Role.ADMIN)
    refused = await client.post("/auth/codes", json={}, headers=bearer(forged))
    assert refused.status == 401
    assert (await refused.json())["code"] == "invalid_token"


async def test_a_token_in_the_url_signs_no_one_in_any_more(client: TestClient) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH)
    old_link = await client.get(
        "/auth/session", params={"token": token, "next": "/whoami"}, allow_redirects=False
    )
    assert old_link.status == 422
    assert COOKIE not in old_link.cookies


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
async def test_next_must_be_a_path_of_this_service_however_a_browser_reads_it(
    client: TestClient, target: str
) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH)
    asked = await client.post("/auth/codes", json={"next": target}, headers=bearer(token))
    assert asked.status == 422
    issued = await new_code(client, token)
    # The link as an attacker would write it: `target` percent-encoded exactly as given.
    raw = target.replace("\\", "%5C")
    link = await client.get(f"/auth/session?code={issued['code']}&next={raw}", headers=BROWSER)
    assert link.status == 422
    assert "must be a path on this service" in await link.text()
    posted = await client.post(
        "/auth/session",
        data=f"code={issued['code']}&next={raw}",
        headers={**OWN_PAGE, "Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert posted.status == 422
    assert "Location" not in posted.headers
    assert COOKIE not in posted.cookies
    # The refusals spent nothing: the code still signs in, to a path of this service.
    assert (await confirm(client, issued["code"])).headers["Location"] == "/whoami"


@pytest.mark.parametrize("path", ["/", "/contracts/1?tab=pay#top", "/a%20b", "/a/b.c/d..e"])
def test_paths_of_this_service_are_kept_as_given(path: str) -> None:
    assert local_path(path) == path


@pytest.mark.parametrize(
    "target", [*FOREIGN_TARGETS, "/\t/evil.com", "/\r/evil.com", "/\n/evil.com", "/\\evil.com"]
)
def test_foreign_targets_are_refused_encoded_or_not(target: str) -> None:
    with pytest.raises(ValueError, match="must be a path on this service"):
        local_path(target)


async def test_another_sites_page_cannot_sign_a_visitor_in(client: TestClient) -> None:
    """Login CSRF: a form on another site posting the attacker's own code."""
    issued = await new_code(client, mint_token(SECRET, "attacker", Role.STUDENT))
    for foreign in (
        {**BROWSER, "Origin": "https://evil.example"},
        {**BROWSER, "Origin": "null"},
        {**BROWSER, "Sec-Fetch-Site": "cross-site"},
    ):
        refused = await confirm(client, issued["code"], headers=foreign)
        assert refused.status == 403, foreign
        assert "This request came from another site" in await refused.text()
        assert COOKIE not in refused.cookies
    problem = await confirm(client, issued["code"], headers={"Origin": "https://evil.example"})
    assert problem.content_type == PROBLEM_JSON
    assert (await problem.json())["code"] == "cross_site_request"
    # Still unspent: the person it belongs to can use it from the service's own page.
    assert (await confirm(client, issued["code"])).status == 303


async def test_over_https_the_cookie_is_secure_and_browsers_are_told_to_stay_on_https(
    database_url: str,
) -> None:
    https = "https://contracts.skileez.example"
    settings: ServiceSettings = settings_for(database_url, contracts_url=https)
    async with TestClient(TestServer(build(api, settings, public_url=https))) as client:
        issued = await new_code(client, mint_token(SECRET, "coach-1", Role.COACH))
        assert issued["url"].startswith(f"{https}/auth/session?code=")
        signed_in = await confirm(client, issued["code"], headers={**BROWSER, "Origin": https})
        assert signed_in.status == 303
        assert signed_in.cookies[COOKIE]["secure"]
        for answer in (signed_in, await client.get("/health/live"), await client.get("/nope")):
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_over_http_no_hsts_is_sent(client: TestClient) -> None:
    assert "Strict-Transport-Security" not in (await client.get("/health/live")).headers


async def test_the_sign_in_routes_are_described_in_the_openapi_document(
    client: TestClient,
) -> None:
    spec = await (await client.get("/openapi.json")).json()
    codes = spec["paths"]["/auth/codes"]["post"]
    assert codes["security"] == [{"bearer": []}, {"cookie": []}]
    assert set(codes["responses"]) >= {"201", "401", "422"}
    assert {p["name"] for p in spec["paths"]["/auth/session"]["get"]["parameters"]} == {
        "code",
        "next",
    }
    posted = spec["paths"]["/auth/session"]["post"]
    assert "application/x-www-form-urlencoded" in posted["requestBody"]["content"]
    assert set(posted["responses"]) >= {"303", "401", "403", "422"}
