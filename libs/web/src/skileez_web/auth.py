"""JWT access: HS256 pinned, `exp` required; claims `sub` (user id), `role` and optionally
`name`; `aud` and `iss` checked where the service is configured with them."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from aiohttp import web

from skileez_web.problems import Problem

ALGORITHM = "HS256"
COOKIE = "skileez_token"
MAX_USER_ID = 200
"""User ids are stored by every service: a subject longer than this, or with NUL, is refused."""
MAX_NAME = 200


class Role(StrEnum):
    STUDENT = "student"
    COACH = "coach"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    name: str | None = None
    """The person's display name, when the token carries one."""


@dataclass(frozen=True)
class TokenRules:
    """What a token must satisfy on a service: signed with `secret`, and carrying `aud` and
    `iss` equal to `audience` and `issuer` where those are set (a token that names an
    audience is refused where none is set, as RFC 7519 asks)."""

    secret: str = field(repr=False)
    audience: str | None = None
    issuer: str | None = None


TOKEN_RULES = web.AppKey("token_rules", TokenRules)


def mint_token(
    secret: str,
    user_id: str,
    role: Role | str,
    ttl_seconds: int = 3600,
    *,
    name: str | None = None,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """A signed token (tests, the demo command, the sign-in codes); `aud`, `iss` and `name`
    only when given."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": str(role),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    optional = {"name": name, "aud": audience, "iss": issuer}
    claims |= {claim: value for claim, value in optional.items() if value is not None}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def mint_for(rules: TokenRules, principal: Principal, expires_at: float) -> str:
    """A token for `principal` that these rules accept, expiring at `expires_at`."""
    return mint_token(
        rules.secret,
        principal.user_id,
        principal.role,
        int(expires_at - time.time()),
        name=principal.name,
        audience=rules.audience,
        issuer=rules.issuer,
    )


def verified(token: str, rules: TokenRules) -> tuple[Principal, float]:
    """The caller a token names and when the token expires (401 when it is not valid)."""
    principal, expires_at = _verified(token, rules)
    if expires_at <= time.time():
        raise Problem(401, "invalid_token", "The access token is not valid: it has expired.")
    return principal, expires_at


@functools.lru_cache(maxsize=4096)
def _verified(token: str, rules: TokenRules) -> tuple[Principal, float]:
    """The caller a token names and when it expires, once its signature and claims are checked.

    Cached: each request of a session carries the same token, and verifying it again was a
    visible share of a contract read (bench/README.md, pass 4). The key is the token and the
    whole of the rules it was checked against. Only a token that verified is cached (a
    refusal raises); its expiry is still checked on every use, by `verified`.
    """
    try:
        claims = jwt.decode(
            token,
            rules.secret,
            algorithms=[ALGORITHM],
            audience=rules.audience,
            issuer=rules.issuer,
            options={"require": ["exp", "sub"]},
        )
        user_id = str(claims["sub"])
        if not 0 < len(user_id) <= MAX_USER_ID or "\x00" in user_id:
            raise ValueError("the subject is not a valid user id")
        name = claims.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise ValueError("the name is not a short text")
        principal = Principal(user_id=user_id, role=Role(str(claims.get("role"))), name=name)
        return principal, float(claims["exp"])
    except (jwt.PyJWTError, ValueError) as error:
        raise Problem(401, "invalid_token", f"The access token is not valid: {error}.") from None


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def token_of(request: web.Request) -> str | None:
    return bearer_token(request) or request.cookies.get(COOKIE)


def authenticate(request: web.Request, rules: TokenRules) -> Principal:
    """The caller, from `Authorization: Bearer` or the `skileez_token` cookie; 401 otherwise."""
    principal, _ = caller_and_expiry(request, rules)
    return principal


def caller_and_expiry(request: web.Request, rules: TokenRules) -> tuple[Principal, float]:
    """The caller, as `authenticate`, and when the token they came with expires."""
    token = token_of(request)
    if token is None:
        raise Problem(401, "unauthenticated", "An access token is required.")
    return verified(token, rules)


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(str(role) for role in roles)
        raise Problem(403, "forbidden", f"Only a {allowed} may do this.")
