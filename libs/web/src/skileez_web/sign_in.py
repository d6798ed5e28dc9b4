"""Sign-in links: a single-use code, valid for minutes, that signs a browser in.

A holder of a valid token asks a service for a code (`POST /auth/codes`); the link
`GET /auth/session?code=...&next=...` shows who would be signed in and asks to confirm, and
only the confirmation, a form posted from the service's own page, spends the code and sets the
`skileez_token` cookie. The token never travels in a URL, and a page of another site can
neither sign a visitor in as someone else (`skileez_web.origins`) nor send them elsewhere
(`next` is a path of this service).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, func
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import connection
from skileez_web.auth import (
    COOKIE,
    MAX_NAME,
    MAX_USER_ID,
    TOKEN_RULES,
    Principal,
    Role,
    caller_and_expiry,
    mint_for,
)
from skileez_web.openapi import HTML, REDIRECT, Api
from skileez_web.origins import ORIGINS
from skileez_web.pages import render_page
from skileez_web.problems import Problem, parse_form, parse_json, parse_query

CODE_LIFETIME = timedelta(minutes=10)
TOKEN_MARGIN = timedelta(minutes=1)
"""A code expires this long before the token it came from, so the cookie it sets is usable."""
CODES_PER_USER = 5
"""Unused codes a person may hold: each new one beyond them replaces their oldest, so nobody
grows the table by asking again and again."""
MAX_NEXT = 2000
PRUNED_PER_CODE = 100
"""Expired codes deleted by each new one, so the table stays as small as the codes in use."""


def sign_in_codes_table(metadata: MetaData) -> Table:
    """Codes not yet used, by the SHA-256 of the code (the code itself is never stored)."""
    return Table(
        "sign_in_codes",
        metadata,
        Column("code_hash", LargeBinary, primary_key=True),
        Column("user_id", String(MAX_USER_ID), nullable=False),
        Column("role", String(16), nullable=False),
        Column("name", String(MAX_NAME)),
        Column("token_expires_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("sign_in_codes_by_expiry", "expires_at"),
    )


def create_sign_in_codes_table(op: Any) -> None:
    """Create the table exactly as defined here (call from a service's Alembic `upgrade`)."""
    sign_in_codes_table(MetaData()).create(op.get_bind())


def drop_sign_in_codes_table(op: Any) -> None:
    op.drop_table("sign_in_codes")


def local_path(value: str) -> str:
    """`value` when it is a path of this service, however a browser would read it; else
    ValueError. Browsers drop tab, CR and LF from URLs (`/%09/evil.com` is `//evil.com` to
    them) and read a backslash as a slash, so any control character or backslash, encoded or
    not, is refused, as is anything that names a scheme or a host once parsed, and any `.` or
    `..` segment (`/.//evil.com` is `//evil.com` once a proxy or a browser normalises it)."""
    decoded, seen = value, {value}
    while (decoded := unquote(decoded)) not in seen:  # every layer of percent-encoding
        seen.add(decoded)
    for form in seen:
        if any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in form):
            raise ValueError(
                "must be a path on this service, without control characters or backslashes"
            )
        if not form.startswith("/") or form.startswith("//"):
            raise ValueError("must be a path on this service")
        parts = urlsplit(form)
        if parts.scheme or parts.netloc or {".", ".."} & set(parts.path.split("/")):
            raise ValueError("must be a path on this service")
    return value


class NextPath(BaseModel):
    next: str = Field(
        default="/", max_length=MAX_NEXT, description="a path on this service, opened after"
    )

    @field_validator("next")
    @classmethod
    def _a_local_path(cls, value: str) -> str:
        return local_path(value)


class SignInCodeRequest(NextPath):
    """What the link opens once the browser is signed in."""


class SignInLink(NextPath):
    code: str = Field(min_length=1, max_length=100)


class SignInCode(BaseModel):
    code: str
    url: str = Field(description="the link to give the person: this service's confirmation page")
    expires_at: datetime


@dataclass(frozen=True)
class PendingSignIn:
    """Who a code signs in, until when their token is valid, and until when the code is."""

    principal: Principal
    token_expires_at: datetime
    expires_at: datetime


class SignInCodes:
    """The codes of one service, in its own database; each is spent once, whichever replica
    is asked (one DELETE ... RETURNING)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def issue(self, principal: Principal, token_expires_at: float) -> tuple[str, datetime]:
        """A new code for `principal` and when it expires (within `CODE_LIFETIME`, a minute
        before their token at the latest); it replaces their oldest past `CODES_PER_USER`."""
        code = secrets.token_urlsafe(32)
        async with connection(self._engine) as db:
            expires_at: datetime = await db.fetchval(
                "WITH pruned AS (DELETE FROM sign_in_codes WHERE code_hash IN ("
                " SELECT code_hash FROM sign_in_codes WHERE expires_at <= now()"
                " LIMIT $7 FOR UPDATE SKIP LOCKED)),"
                " superseded AS (DELETE FROM sign_in_codes WHERE code_hash IN ("
                " SELECT code_hash FROM sign_in_codes WHERE user_id = $2"
                " ORDER BY created_at DESC OFFSET $8))"
                " INSERT INTO sign_in_codes"
                " (code_hash, user_id, role, name, token_expires_at, expires_at)"
                " VALUES ($1, $2, $3, $4, to_timestamp($5::float8),"
                " least(now() + $6::interval, to_timestamp($5::float8) - $9::interval))"
                " RETURNING expires_at",
                _digest(code),
                principal.user_id,
                str(principal.role),
                principal.name,
                token_expires_at,
                CODE_LIFETIME,
                PRUNED_PER_CODE,
                CODES_PER_USER - 1,
                TOKEN_MARGIN,
            )
        return code, expires_at

    async def pending(self, code: str) -> PendingSignIn | None:
        """Who `code` would sign in, while it is unused and unexpired."""
        async with connection(self._engine) as db:
            row = await db.fetchrow(
                "SELECT user_id, role, name, token_expires_at, expires_at FROM sign_in_codes"
                " WHERE code_hash = $1 AND expires_at > now()",
                _digest(code),
            )
        return _pending(row)

    async def spend(self, code: str) -> PendingSignIn | None:
        """Who `code` signs in, once: the code is gone after, for every replica."""
        async with connection(self._engine) as db:
            row = await db.fetchrow(
                "DELETE FROM sign_in_codes WHERE code_hash = $1 AND expires_at > now()"
                " RETURNING user_id, role, name, token_expires_at, expires_at",
                _digest(code),
            )
        return _pending(row)


SIGN_IN_CODES = web.AppKey("sign_in_codes", SignInCodes)


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def _pending(row: asyncpg.Record | None) -> PendingSignIn | None:
    if row is None:
        return None
    principal = Principal(user_id=row["user_id"], role=Role(row["role"]), name=row["name"])
    return PendingSignIn(principal, row["token_expires_at"], row["expires_at"])


def invalid_code() -> Problem:
    return Problem(
        401,
        "invalid_sign_in_code",
        "This sign-in link is unknown, was already used or has expired.",
    )


sign_in_api = Api("sign-in")


@sign_in_api.operation(
    "POST",
    "/auth/codes",
    summary="A single-use sign-in link for the caller, valid for a few minutes",
    body=SignInCodeRequest,
    responses={201: SignInCode, 400: None, 401: None, 403: None, 422: None},
)
async def create_sign_in_code(request: web.Request) -> web.Response:
    principal, token_expires_at = caller_and_expiry(request, request.app[TOKEN_RULES])
    if token_expires_at - time.time() <= TOKEN_MARGIN.total_seconds():
        raise Problem(
            401, "invalid_token", "The access token expires within a minute: get a new one."
        )
    asked = await parse_json(request, SignInCodeRequest)
    code, expires_at = await request.app[SIGN_IN_CODES].issue(principal, token_expires_at)
    query = urlencode({"code": code, "next": asked.next}, quote_via=quote)
    url = f"{request.app[ORIGINS].public_url}/auth/session?{query}"
    answer = SignInCode(code=code, url=url, expires_at=expires_at)
    return web.json_response(text=answer.model_dump_json(), status=201)


@sign_in_api.operation(
    "GET",
    "/auth/session",
    summary="A sign-in link's page: who it signs in, and a button to confirm (nothing changes"
    " until that form is posted)",
    query=SignInLink,
    responses={200: HTML, 401: None, 422: None},
    auth=False,
)
async def sign_in_page(request: web.Request) -> web.Response:
    link = parse_query(request, SignInLink)
    pending = await request.app[SIGN_IN_CODES].pending(link.code)
    if pending is None:
        raise invalid_code()
    principal = pending.principal
    response = render_page(
        request,
        "skileez/sign_in.html",
        {
            "who": principal.name or principal.user_id,
            "user_id": principal.user_id,
            "role": str(principal.role),
            "code": link.code,
            "next": link.next,
            "expires_at": pending.expires_at.strftime("%H:%M"),
        },
    )
    # The URL holds the code: no other site gets it as a referrer. (Not `no-referrer`, with
    # which browsers post the form with `Origin: null`, refused as another site's.)
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@sign_in_api.operation(
    "POST",
    "/auth/session",
    summary="Confirm a sign-in link: spend its code, set the skileez_token cookie, go to `next`",
    form=SignInLink,
    responses={303: REDIRECT, 401: None, 403: None, 422: None},
    auth=False,
)
async def sign_in(request: web.Request) -> web.Response:
    link = await parse_form(request, SignInLink)
    pending = await request.app[SIGN_IN_CODES].spend(link.code)
    if pending is None:
        raise invalid_code()
    token = mint_for(
        request.app[TOKEN_RULES], pending.principal, pending.token_expires_at.timestamp()
    )
    response = web.HTTPSeeOther(link.next)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=request.app[ORIGINS].https,
    )
    raise response


def keeping_sign_in_codes(
    engine_key: web.AppKey[AsyncEngine],
) -> Callable[[web.Application], Awaitable[None]]:
    """A start-up hook: the codes live in the database of the engine under `engine_key`
    (run after the cleanup contexts, so that engine exists)."""

    async def keep(app: web.Application) -> None:
        app[SIGN_IN_CODES] = SignInCodes(app[engine_key])

    return keep
