"""JWT access: HS256 pinned, `exp` required; claims `sub` (user id) and `role`."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from enum import StrEnum

import jwt
from aiohttp import web

from skileez_web.problems import Problem

ALGORITHM = "HS256"
COOKIE = "skileez_token"
MAX_USER_ID = 200
"""User ids are stored by every service: a subject longer than this, or with NUL, is refused."""


class Role(StrEnum):
    STUDENT = "student"
    COACH = "coach"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role


def mint_token(secret: str, user_id: str, role: Role | str, ttl_seconds: int = 3600) -> str:
    """A signed token (tests, the demo command, and other services' links)."""
    now = int(time.time())
    claims = {"sub": user_id, "role": str(role), "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> Principal:
    principal, expires_at = _verified(token, secret)
    if expires_at <= time.time():
        raise Problem(401, "invalid_token", "The access token is not valid: it has expired.")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    """The caller a token names and when it expires, once its signature and claims are checked.

    Cached: each request of a session carries the same token, and verifying it again was a
    visible share of a contract read (bench/README.md, pass 4). Only a token that verified is
    cached (a refusal raises); its expiry is still checked on every use, by `decode_token`.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        user_id = str(claims["sub"])
        if not 0 < len(user_id) <= MAX_USER_ID or "\x00" in user_id:
            raise ValueError("the subject is not a valid user id")
        return Principal(user_id=user_id, role=Role(str(claims.get("role")))), float(claims["exp"])
    except (jwt.PyJWTError, ValueError) as error:
        raise Problem(401, "invalid_token", f"The access token is not valid: {error}.") from None


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.cookies.get(COOKIE)


def authenticate(request: web.Request, secret: str) -> Principal:
    """The caller, from `Authorization: Bearer` or the `skileez_token` cookie; 401 otherwise."""
    token = token_of(request)
    if token is None:
        raise Problem(401, "unauthenticated", "An access token is required.")
    return decode_token(token, secret)


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(str(role) for role in roles)
        raise Problem(403, "forbidden", f"Only a {allowed} may do this.")
