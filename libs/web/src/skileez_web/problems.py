"""RFC 9457 problem details: every refusal is `application/problem+json` with a stable `code`."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import asyncpg
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from skileez_web.negotiation import URLENCODED, wants_html

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
M = TypeVar("M", bound=BaseModel)

BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Problem(Exception):
    """Raise to answer with a problem+json body; `extra` members are added to the body, and
    `headers` to the answer (as a page too), e.g. a 429's `Retry-After`."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> web.Response:
        response = problem_response(self.status, self.code, self.detail, **self.extra)
        response.headers.update(self.headers)
        return response


def problem_response(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    body = {
        "type": f"https://skileez.example/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return web.json_response(body, status=status, content_type=PROBLEM_JSON)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

Refusals = Mapping[type[Exception], int]
"""A service's table from each domain error that may reach HTTP to the status it answers with.
The error carries its stable `code`; its optional `fields` dict is added to the body."""
REFUSALS = web.AppKey("refusals", Mapping[type[Exception], int])


def as_problem(refusals: Refusals, error: Exception) -> Problem | None:
    """The answer to a domain error of the table (or a subclass of one), else None."""
    if isinstance(error, Problem):
        return error
    for kind in type(error).__mro__:
        if (status := refusals.get(kind)) is not None:
            fields: dict[str, Any] = getattr(error, "fields", {})
            return Problem(status, getattr(error, "code", "refused"), str(error), **fields)
    return None


UNAVAILABLE = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)
"""What a database (or another server) that is away raises: refused, reset, closed, timed out."""
RETRY_AFTER_UNAVAILABLE = "5"


ProblemPage = Callable[[web.Request, Problem], web.StreamResponse]
PROBLEM_PAGE: web.AppKey[ProblemPage] = web.AppKey("problem_page")
"""How the app shows a refusal to a browser (`skileez_web.pages.problem_page`)."""


def answer(request: web.Request, problem: Problem) -> web.StreamResponse:
    """The refusal as a page for a browser, where the app shows pages; else problem+json."""
    if wants_html(request) and (show := request.app.get(PROBLEM_PAGE)) is not None:
        return show(request, problem)
    return problem.response()


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn `Problem`, the service's refusals, aiohttp's own HTTP errors and crashes into
    problem+json answers, or into pages for a browser: no navigation ends on JSON."""
    try:
        return await handler(request)
    except Problem as problem:
        return answer(request, problem)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = HTTPStatus(error.status).phrase.lower().replace(" ", "_")
        return answer(request, Problem(error.status, code, error.reason))
    except Exception as error:
        if (refused := as_problem(request.app.get(REFUSALS, {}), error)) is not None:
            return answer(request, refused)
        if isinstance(error, UNAVAILABLE):  # away for now: the client may try again later
            log.warning("unavailable on %s %s: %r", request.method, request.path, error)
            away = "A server this service needs is not answering; try again in a few seconds."
            unavailable = Problem(
                503, "unavailable", away, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}
            )
            return answer(request, unavailable)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return answer(request, Problem(500, "internal_error", "Something went wrong on our side."))


def path_id(
    request: web.Request, not_found: Callable[[str], Exception], name: str = "id"
) -> uuid.UUID:
    """The path's `{name}` as a UUID; anything else names nothing that exists (`not_found`)."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(f"There is no such id {raw!r}.") from None


def require_media_type(request: web.Request, accepted: Collection[str]) -> None:
    """415 for a body of a media type the route does not take, or not in UTF-8: a JSON route
    never reads a form or `text/plain` (what a cross-site page can send without asking)."""
    given = request.content_type if "Content-Type" in request.headers else "no Content-Type"
    if given not in accepted:
        raise Problem(
            415,
            "unsupported_media_type",
            f"This route takes {' or '.join(accepted)}, not {given}.",
            accepted=list(accepted),
        )
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise Problem(
            415,
            "unsupported_media_type",
            f"Bodies are read in UTF-8, not {request.charset}.",
            accepted=list(accepted),
        )


async def parse_json(request: web.Request, model: type[M]) -> M:
    """The request body validated as `model`: 400 for malformed JSON, 422 for invalid fields."""
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise Problem(400, "malformed_json", "The request body is not valid JSON.") from None
        raise invalid(error) from None


async def parse_form(request: web.Request, model: type[M]) -> M:
    """A browser form (urlencoded or multipart) validated as `model`: 400 for a malformed
    body, 422 for invalid fields."""
    try:
        fields = await _form_fields(request)
    except (ValueError, LookupError, RuntimeError, HttpProcessingError):
        # aiohttp's multipart reader raises each of these on a malformed body.
        raise Problem(400, "malformed_form", "The request body is not a valid form.") from None
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise invalid(error) from None


async def _form_fields(request: web.Request) -> dict[str, Any]:
    """The form's fields, the last value of a repeated one; urlencoded bodies strictly: UTF-8,
    every `%` escape well formed (aiohttp's own parsing passes bad escapes through)."""
    if request.content_type != URLENCODED:
        return dict((await request.post()).items())
    text = (await request.read()).decode("ascii").rstrip()
    if BAD_PERCENT_ESCAPE.search(text):
        raise ValueError("a malformed percent-escape")
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as error:
        raise invalid(error) from None


def invalid(error: ValidationError) -> Problem:
    errors = [
        {"field": ".".join(str(part) for part in e["loc"]) or "body", "message": e["msg"]}
        for e in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "validation_error", detail or "Invalid request.", errors=errors)
