"""The JWT secret refused at start-up when short or a template's placeholder; `aud` and `iss`
minted and checked where configured, and the token cache keyed on what was checked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from skileez_web.auth import TOKEN_RULES, Role, TokenRules, authenticate, mint_token, verified
from skileez_web.openapi import Api
from skileez_web.problems import Problem

from .service import SECRET, build, settings_for, sign_in_database

PLACEHOLDERS = [
    "CHANGE-ME-at-least-32-random-characters",  # deploy/k8s/base/secret.template.yaml
    "local-only-jwt-secret-change-me-0123456789",  # .env.example until now
    "our-production-secret-Change-Me-please-0123456789",
]

api = Api("tokens")


@api.operation("GET", "/me", summary="The caller", responses={200: None, 401: None})
async def me(request: web.Request) -> web.Response:
    principal = authenticate(request, request.app[TOKEN_RULES])
    return web.json_response({"user_id": principal.user_id, "name": principal.name})


@pytest.mark.parametrize("secret", ["", "x" * 31, "é" * 15, *PLACEHOLDERS])
def test_a_short_or_placeholder_jwt_secret_is_refused_without_being_echoed(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings_for("postgresql+asyncpg://x/y", jwt_secret=secret)
    assert "JWT_SECRET" in str(refused.value)
    if secret:
        assert secret not in str(refused.value)


def test_a_random_secret_of_32_bytes_is_accepted_and_blank_claims_are_unset() -> None:
    settings = settings_for(
        "postgresql+asyncpg://x/y", jwt_secret="k" * 32, jwt_audience=" ", jwt_issuer=""
    )
    assert settings.token_rules == TokenRules("k" * 32, None, None)
    assert "k" * 32 not in repr(settings.token_rules)


def test_a_service_refuses_to_start_with_a_placeholder_secret() -> None:
    environment = {
        **os.environ,
        "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "JWT_SECRET": PLACEHOLDERS[0],
    }
    result = subprocess.run(
        [sys.executable, "-m", "skileez_scheduling", "serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "JWT_SECRET is a template's placeholder" in output
    assert PLACEHOLDERS[0] not in output


@pytest.fixture
async def checking_claims(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = settings_for(
        await sign_in_database(create_database),
        jwt_audience="skileez-services",
        jwt_issuer="https://auth.skileez.example",
    )
    async with TestClient(TestServer(build(api, settings))) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_where_audience_and_issuer_are_set_tokens_must_carry_both(
    checking_claims: TestClient,
) -> None:
    good = {"audience": "skileez-services", "issuer": "https://auth.skileez.example"}
    accepted = await checking_claims.get(
        "/me", headers=bearer(mint_token(SECRET, "coach-1", Role.COACH, name="Ann", **good))
    )
    assert accepted.status == 200
    assert await accepted.json() == {"user_id": "coach-1", "name": "Ann"}
    for claims in (
        {},
        {"audience": "skileez-services"},
        {"issuer": "https://auth.skileez.example"},
        {**good, "audience": "another-system"},
        {**good, "issuer": "https://evil.example"},
    ):
        token = mint_token(SECRET, "coach-1", Role.COACH, **claims)
        refused = await checking_claims.get("/me", headers=bearer(token))
        assert refused.status == 401, claims
        assert (await refused.json())["code"] == "invalid_token"


async def test_where_they_are_not_set_tokens_without_them_stay_valid(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    settings = settings_for(await sign_in_database(create_database))
    async with TestClient(TestServer(build(api, settings))) as client:
        plain = mint_token(SECRET, "coach-1", Role.COACH)
        assert (await client.get("/me", headers=bearer(plain))).status == 200
        # A token meant for one audience is not taken by a service that names none (RFC 7519).
        aimed = mint_token(SECRET, "coach-1", Role.COACH, audience="another-system")
        assert (await client.get("/me", headers=bearer(aimed))).status == 401


def test_a_token_verified_under_some_rules_is_checked_again_under_others() -> None:
    token = mint_token(SECRET, "coach-1", Role.COACH, issuer="https://evil.example")
    principal, _ = verified(token, TokenRules(SECRET))
    assert principal.user_id == "coach-1"
    with pytest.raises(Problem) as refused:
        verified(token, TokenRules(SECRET, issuer="https://auth.skileez.example"))
    assert refused.value.code == "invalid_token"


def test_minted_tokens_carry_aud_iss_and_name_only_when_given() -> None:
    plain = jwt.decode(mint_token(SECRET, "s", Role.STUDENT), options={"verify_signature": False})
    assert not {"aud", "iss", "name"} & set(plain)
    full = jwt.decode(
        mint_token(SECRET, "s", Role.STUDENT, name="Bo", audience="a", issuer="i"),
        options={"verify_signature": False},
    )
    assert (full["aud"], full["iss"], full["name"]) == ("a", "i", "Bo")
