"""RFC 9457 problem details: every refusal is `application/problem+json` with a stable `code`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ValidationError

from skileez_web.negotiation import wants_html

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
M = TypeVar("M", bound=BaseModel)


class Problem(Exception):
    """Raise to answer with a problem+json body; `extra` members are added to the body."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra

    def response(self) -> web.Response:
        return problem_response(self.status, self.code, self.detail, **self.extra)


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


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn `Problem`, the service's refusals, aiohttp's own HTTP errors and crashes into
    problem+json answers."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = HTTPStatus(error.status).phrase.lower().replace(" ", "_")
        return problem_response(error.status, code, error.reason)
    except Exception as error:
        if (refused := as_problem(request.app.get(REFUSALS, {}), error)) is not None:
            return refused.response()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "internal_error", "Something went wrong on our side.")


def page(handler: Handler) -> Handler:
    """A route browsers navigate to: its refusals are shown to a browser as the service's
    `problem.html` page, and as problem+json to anything else."""

    @wraps(handler)
    async def render_refusals(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as error:
            problem = as_problem(request.app.get(REFUSALS, {}), error)
            if problem is None or not wants_html(request):
                raise
            return aiohttp_jinja2.render_template(
                "problem.html", request, {"problem": problem}, status=problem.status
            )

    return render_refusals


def path_id(
    request: web.Request, not_found: Callable[[str], Exception], name: str = "id"
) -> uuid.UUID:
    """The path's `{name}` as a UUID; anything else names nothing that exists (`not_found`)."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(f"There is no such id {raw!r}.") from None


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
    """A browser form validated as `model` (422 for invalid fields)."""
    form = await request.post()
    try:
        return model.model_validate({key: value for key, value in form.items()})
    except ValidationError as error:
        raise invalid(error) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as error:
        raise invalid(error) from None


def invalid(error: ValidationError) -> Problem:
    errors = [
        {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
        for e in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "validation_error", detail or "Invalid request.", errors=errors)
