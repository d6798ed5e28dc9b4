"""JWT access rules and problem+json answers, through a real aiohttp server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from skileez_web.auth import TOKEN_RULES, Role, authenticate, mint_token, require_role
from skileez_web.openapi import Api
from skileez_web.problems import PROBLEM_JSON, parse_json

from .service import SECRET, build, settings_for, sign_in_database


class Greeting(BaseModel):
    name: str = Field(min_length=1)


class Reply(BaseModel):
    text: str


api = Api("test")


@api.operation("POST", "/greet", summary="Greet", body=Greeting, responses={200: Reply, 401: None})
async def greet(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[TOKEN_RULES])
    require_role(principal, Role.COACH)
    body = await parse_json(request, Greeting)
    return web.json_response({"text": f"hello {body.name} from {principal.user_id}"})


@pytest.fixture
async def client(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = settings_for(await sign_in_database(create_database))
    async with TestClient(TestServer(build(api, settings))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_in_the_header_or_cookie_is_accepted(client: TestClient) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH)
    response = await client.post("/greet", json={"name": "Ann"}, headers=bearer(token))
    assert response.status == 200
    assert (await response.json())["text"] == "hello Ann from coach-1"
    response = await client.post("/greet", json={"name": "Ann"}, cookies={"skileez_token": token})
    assert response.status == 200


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "unauthenticated"),
        (mint_token(SECRET, "coach-1", Role.COACH, ttl_seconds=-10), "invalid_token"),
        (mint_token("another-secret-that-is-long-enough", "coach-1", Role.COACH), "invalid_token"),
        (
            jwt.encode({"sub": "coach-1", "role": "coach"}, SECRET, algorithm="HS256"),
            "invalid_token",
        ),
        (
            jwt.encode(
                {"sub": "coach-1", "role": "coach", "exp": int(time.time()) + 60},
                None,
                algorithm="none",
            ),
            "invalid_token",
        ),
        (
            jwt.encode(
                {"sub": "coach-1", "role": "coach", "exp": int(time.time()) + 60},
                SECRET * 2,  # long enough for HS512; refused for its algorithm alone
                algorithm="HS512",
            ),
            "invalid_token",
        ),
        (mint_token(SECRET, "x", "pirate"), "invalid_token"),
        (mint_token(SECRET, "x" * 201, Role.COACH), "invalid_token"),
        (mint_token(SECRET, "coach\x00", Role.COACH), "invalid_token"),
    ],
    ids=[
        "missing",
        "expired",
        "forged",
        "no-exp",
        "alg-none",
        "other-alg",
        "unknown-role",
        "long-subject",
        "nul-subject",
    ],
)
async def test_a_bad_token_gets_401_problem(
    client: TestClient, token: str | None, code: str
) -> None:
    headers = bearer(token) if token else {}
    response = await client.post("/greet", json={"name": "Ann"}, headers=headers)
    assert response.status == 401
    assert response.content_type == PROBLEM_JSON
    body = await response.json()
    assert body["code"] == code
    assert {"type", "title", "status", "detail", "code"} <= set(body)


async def test_the_wrong_role_gets_403(client: TestClient) -> None:
    token = mint_token(SECRET, "student-1", Role.STUDENT)
    response = await client.post("/greet", json={"name": "Ann"}, headers=bearer(token))
    assert response.status == 403
    assert (await response.json())["code"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{nope", 400, "malformed_json"),
        (b'{"name": ""}', 422, "validation_error"),
        (b"[]", 422, "validation_error"),
    ],
)
async def test_bad_bodies_get_4xx_problems(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH)
    response = await client.post(
        "/greet", data=body, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert response.status == status
    assert response.content_type == PROBLEM_JSON
    assert (await response.json())["code"] == code


async def test_unknown_route_and_method_are_problems_too(client: TestClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status == 404
    assert missing.content_type == PROBLEM_JSON
    wrong = await client.get("/greet")
    assert wrong.status == 405
    assert (await wrong.json())["code"] == "method_not_allowed"


async def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert (await client.get("/health/live")).status == 200
    ready_response = await client.get("/health/ready")
    assert (await ready_response.json())["checks"] == {"always": True}
    await client.get("/health/live")
    metrics = await (await client.get("/metrics")).text()
    assert 'skileez_http_requests_total{method="GET",route="/health/live",status="200"}' in metrics
    spec = await (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/greet"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Greeting"
    }
    assert "Reply" in spec["components"]["schemas"]
    assert "application/problem+json" in operation["responses"]["401"]["content"]


async def test_the_correlation_id_is_taken_from_the_caller_or_minted_and_echoed(
    client: TestClient,
) -> None:
    given = await client.get("/health/live", headers={"X-Correlation-Id": "checkout-42"})
    assert given.headers["X-Correlation-Id"] == "checkout-42"
    minted = await client.get("/health/live", headers={"X-Correlation-Id": "bad id <script>"})
    assert minted.headers["X-Correlation-Id"] not in ("", "bad id <script>")
    refused = await client.get("/nowhere", headers={"X-Correlation-Id": "c-1"})
    assert refused.status == 404
    assert refused.headers["X-Correlation-Id"] == "c-1"


async def test_a_token_once_accepted_is_refused_once_it_expires(client: TestClient) -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH, ttl_seconds=2)  # valid for 1 s at least
    accepted = await client.post("/greet", json={"name": "Ann"}, headers=bearer(token))
    assert accepted.status == 200
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    # Not a wait for an event: the clock passing the token's expiry is what is under test.
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.05)
    refused = await client.post("/greet", json={"name": "Ann"}, headers=bearer(token))
    assert refused.status == 401
    assert (await refused.json())["code"] == "invalid_token"
