"""Routes declared once, with the models they take and give, so `/openapi.json` stays accurate."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTML = "html"
"""A response given as an HTML page."""

REDIRECT = "redirect"
"""A response that is a redirect (303) for browsers."""

ResponseSpec = type[BaseModel] | str | None

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
    ) -> Callable[[Handler], Handler]:
        """Register an aiohttp handler and describe it in the OpenAPI document."""

        def register(handler: Handler) -> Handler:
            self.routes.route(method, path)(handler)
            self.operations.append(
                Operation(method, path, summary, body, form, query, responses, auth)
            )
            return handler

        return register

    def spec(self, *others: Api) -> dict[str, Any]:
        """The OpenAPI document of this API's operations and those of `others`."""
        operations = [op for api in (self, *others) for op in api.operations]
        models = {
            model
            for op in operations
            for model in (op.body, op.form, op.query, *op.responses.values())
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


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation_spec(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        for name, info in op.query.model_fields.items():
            schema = op.query.model_json_schema()["properties"][name]
            parameters.append(
                {"name": name, "in": "query", "required": info.is_required(), "schema": schema}
            )
    spec: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method.lower() + "_" + re.sub(r"\W+", "_", op.path).strip("_"),
        "parameters": parameters,
        "responses": {
            str(status): _response(status, spec) for status, spec in op.responses.items()
        },
    }
    content: dict[str, Any] = {}
    if op.body is not None:
        content["application/json"] = {"schema": _ref(op.body)}
    if op.form is not None:
        content["application/x-www-form-urlencoded"] = {"schema": _ref(op.form)}
    if content:
        spec["requestBody"] = {"required": True, "content": content}
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
    elif isinstance(spec, type):
        response["content"] = {"application/json": {"schema": _ref(spec)}}
    return response
