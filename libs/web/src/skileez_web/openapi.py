"""Routes declared once, with the models they take and give, so `/openapi.json` stays accurate."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from functools import wraps
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from skileez_web.negotiation import FORMS, JSON
from skileez_web.problems import require_media_type

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTML = "html"
"""A response given as an HTML page."""

CSS = "css"
"""A response given as a stylesheet."""

REDIRECT = "redirect"
"""A response that is a redirect (303) for browsers."""

CSV = "csv"
"""A response given as CSV."""


@dataclass(frozen=True)
class JsonOrCsv:
    """A response given as JSON of `model`, or as CSV to a client that asks for text/csv."""

    model: type[BaseModel]


ResponseSpec = type[BaseModel] | JsonOrCsv | str | None

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    form: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, ResponseSpec]
    auth: bool
    headers: type[BaseModel] | None = None
    """Request headers the operation reads, by their aliases (described; the route checks them)."""

    @property
    def media_types(self) -> dict[str, type[BaseModel]]:
        """The body's model by each media type the operation takes (none: it reads no body)."""
        taken: dict[str, type[BaseModel]] = {}
        if self.body is not None:
            taken[JSON] = self.body
        if self.form is not None:
            taken |= dict.fromkeys(FORMS, self.form)
        return taken


@dataclass
class Api:
    title: str
    version: str = "1.0.0"
    routes: web.RouteTableDef = field(default_factory=web.RouteTableDef)
    operations: list[Operation] = field(default_factory=list)

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        responses: dict[int, ResponseSpec],
        body: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        auth: bool = True,
        headers: type[BaseModel] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register an aiohttp handler and describe it in the OpenAPI document."""

        def register(handler: Handler) -> Handler:
            operation = Operation(
                method, path, summary, body, form, query, responses, auth, headers
            )
            self.routes.route(method, path)(_taking(operation.media_types, handler))
            self.operations.append(operation)
            return handler

        return register

    def spec(self, *others: Api) -> dict[str, Any]:
        """The OpenAPI document of this API's operations and those of `others`."""
        operations = [op for api in (self, *others) for op in api.operations]
        models = {
            model
            for op in operations
            for model in (
                op.body,
                op.form,
                op.query,
                *(
                    spec.model if isinstance(spec, JsonOrCsv) else spec
                    for spec in op.responses.values()
                ),
            )
            if isinstance(model, type)
        }
        _, schemas = models_json_schema(
            [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        paths: dict[str, dict[str, Any]] = {}
        for op in operations:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation_spec(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": {**schemas.get("$defs", {}), "Problem": PROBLEM_SCHEMA},
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "cookie": {"type": "apiKey", "in": "cookie", "name": "skileez_token"},
                },
            },
        }


def _taking(media_types: Collection[str], handler: Handler) -> Handler:
    """The handler, answering 415 first to a body of a media type the operation does not take."""
    if not media_types:
        return handler

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        require_media_type(request, media_types)
        return await handler(request)

    return checked


BODY_REFUSALS = (400, 413, 415, 422)
"""What any operation that reads a body may answer: malformed, too large, not a type it takes,
invalid fields."""


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation_spec(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        properties = op.query.model_json_schema(by_alias=True)["properties"]
        for name, info in op.query.model_fields.items():
            alias = info.alias or name  # `from`, a keyword in Python, is `from_` aliased
            parameters.append(
                {
                    "name": alias,
                    "in": "query",
                    "required": info.is_required(),
                    "schema": properties[alias],
                }
            )
    if op.headers is not None:
        properties = op.headers.model_json_schema(by_alias=True)["properties"]
        for name, info in op.headers.model_fields.items():
            alias = info.alias or name
            parameters.append(
                {
                    "name": alias,
                    "in": "header",
                    "required": info.is_required(),
                    "schema": properties[alias],
                }
            )
    responses = dict(op.responses)
    if op.media_types:
        responses |= {status: None for status in BODY_REFUSALS if status not in responses}
    spec: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method.lower() + "_" + re.sub(r"\W+", "_", op.path).strip("_"),
        "parameters": parameters,
        "responses": {
            str(status): _response(status, spec) for status, spec in sorted(responses.items())
        },
    }
    if op.media_types:
        spec["requestBody"] = {
            "required": True,
            "content": {
                media_type: {"schema": _ref(model)} for media_type, model in op.media_types.items()
            },
        }
    spec["security"] = [{"bearer": []}, {"cookie": []}] if op.auth else []
    return spec


def _response(status: int, spec: ResponseSpec) -> dict[str, Any]:
    response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if status >= 400:
        response["content"] = {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    elif spec == HTML:
        response["content"] = {"text/html": {"schema": {"type": "string"}}}
    elif spec == CSS:
        response["content"] = {"text/css": {"schema": {"type": "string"}}}
    elif spec == CSV:
        response["content"] = {"text/csv": {"schema": {"type": "string"}}}
    elif isinstance(spec, JsonOrCsv):
        response["content"] = {
            "application/json": {"schema": _ref(spec.model)},
            "text/csv": {"schema": {"type": "string"}},
        }
    elif isinstance(spec, type):
        response["content"] = {"application/json": {"schema": _ref(spec)}}
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before asking again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response
