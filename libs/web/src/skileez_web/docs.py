"""`GET /docs`: the service's OpenAPI document as a page to read, rendered on the server.

Built from the same document `/openapi.json` serves, once per application, with the package's
own template: no script and nothing fetched from elsewhere (the page forbids both).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from skileez_web.openapi import HTML, Api

DOCS_PAGE = web.AppKey("docs_page", str)
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

KNOWN_PATTERNS = {r"^[^\x00]*$": "no NUL character"}
"""Patterns the services put on most strings, said in words."""

docs_api = Api("docs")


@docs_api.operation(
    "GET",
    "/docs",
    summary="This API for people to read: the OpenAPI document as a page",
    responses={200: HTML},
    auth=False,
)
async def docs(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[DOCS_PAGE],
        content_type="text/html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@dataclass(frozen=True)
class TypePart:
    """A piece of a type as read ("array of", "ContractOut"); `schema` names a linked one."""

    text: str
    schema: str | None = None


@dataclass(frozen=True)
class Field:
    name: str
    type: list[TypePart]
    required: bool
    notes: list[str]
    where: str = ""
    """Where a parameter goes (path, query); empty for a body's field."""


@dataclass(frozen=True)
class Body:
    media_types: list[str]
    type: list[TypePart]
    description: str
    fields: list[Field]


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    media_types: list[str]
    type: list[TypePart]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    authenticated: bool
    parameters: list[Field]
    body: Body | None
    answers: list[Answer]


@dataclass
class Group:
    name: str
    operations: list[Operation] = field(default_factory=list)


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    fields: list[Field]
    values: list[str]
    """The allowed values of an enumeration."""


def docs_page(spec: Mapping[str, Any]) -> str:
    """The page of `spec`: operations grouped by the first segment of their path, then every
    schema they take or give."""
    components: Mapping[str, Any] = spec.get("components", {}).get("schemas", {})
    groups: dict[str, Group] = {}
    for path, methods in spec["paths"].items():
        name = path.strip("/").split("/")[0] or "root"
        group = groups.setdefault(name, Group(name))
        for method, operation in methods.items():
            group.operations.append(_operation(path, method, operation, components))
    schemas = [_schema(name, schema, components) for name, schema in components.items()]
    return _template().render(
        title=spec["info"]["title"],
        version=spec["info"]["version"],
        openapi=spec["openapi"],
        groups=list(groups.values()),
        schemas=schemas,
    )


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("skileez_web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["code_spans"] = _code_spans
    return environment.get_template("docs.html")


def _code_spans(text: str) -> Markup:
    """`text` escaped, its `backquoted` spans (as the services' docstrings write them) as code."""
    pieces = str(text).split("`")
    if len(pieces) % 2 == 0:  # an unmatched backquote: no spans
        return Markup.escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(piece) if index % 2 else Markup.escape(piece)
        for index, piece in enumerate(pieces)
    )


def _operation(
    path: str, method: str, operation: Mapping[str, Any], components: Mapping[str, Any]
) -> Operation:
    parameters = [
        Field(
            name=parameter["name"],
            type=_type(parameter.get("schema", {}), components),
            required=bool(parameter.get("required")),
            notes=_notes(parameter.get("schema", {})),
            where=parameter["in"],
        )
        for parameter in operation.get("parameters", [])
    ]
    body = None
    if request_body := operation.get("requestBody"):
        content = request_body.get("content", {})
        schema = _resolved(_schema_of(content), components)
        body = Body(
            media_types=list(content),
            type=_type(_schema_of(content), components),
            description=schema.get("description", ""),
            fields=_fields(schema, components),
        )
    answers = [
        Answer(
            status=status,
            description=answer.get("description", ""),
            media_types=list(answer.get("content", {})),
            type=_type(_schema_of(answer.get("content", {})), components),
        )
        for status, answer in sorted(operation.get("responses", {}).items())
    ]
    return Operation(
        anchor=operation.get("operationId") or f"{method}-{path}",
        method=method.upper(),
        path=path,
        summary=operation.get("summary", ""),
        authenticated=bool(operation.get("security")),
        parameters=parameters,
        body=body,
        answers=answers,
    )


def _schema_of(content: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of a body's first media type (the services give one schema for all)."""
    for media in content.values():
        schema: Mapping[str, Any] = media.get("schema", {})
        return schema
    return {}


def _schema(name: str, schema: Mapping[str, Any], components: Mapping[str, Any]) -> Schema:
    return Schema(
        name=name,
        description=schema.get("description", ""),
        fields=_fields(schema, components),
        values=[json.dumps(value) for value in schema.get("enum", [])],
    )


def _fields(schema: Mapping[str, Any], components: Mapping[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    return [
        Field(
            name=name,
            type=_type(property_schema, components),
            required=name in required,
            notes=_notes(property_schema),
        )
        for name, property_schema in schema.get("properties", {}).items()
    ]


def _resolved(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    name = _ref_name(schema)
    return components.get(name, {}) if name else schema


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _type(schema: Mapping[str, Any], components: Mapping[str, Any]) -> list[TypePart]:
    """A schema's type as read: `string (uuid)`, `array of SessionOut`, `integer | null`."""
    if name := _ref_name(schema):
        return [TypePart(name, name if name in components else None)]
    for combined in ("anyOf", "oneOf", "allOf"):
        if members := schema.get(combined):
            joiner = " & " if combined == "allOf" else " | "
            parts: list[TypePart] = []
            for index, member in enumerate(members):
                if index:
                    parts.append(TypePart(joiner))
                parts.extend(_type(member, components))
            return parts
    if "const" in schema:
        return [TypePart(json.dumps(schema["const"]))]
    if "enum" in schema:
        return [TypePart(" | ".join(json.dumps(value) for value in schema["enum"]))]
    kind = schema.get("type", "any")
    if kind == "array":
        return [TypePart("array of "), *_type(schema.get("items", {}), components)]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        values = _type(schema["additionalProperties"], components)
        return [TypePart("object of string to "), *values]
    if isinstance(kind, list):
        kind = " | ".join(kind)
    return [TypePart(f"{kind} ({schema['format']})" if "format" in schema else str(kind))]


def _notes(schema: Mapping[str, Any]) -> list[str]:
    """A field's description and constraints, as short phrases (those of anyOf members too)."""
    description = [schema["description"]] if "description" in schema else []
    return [*description, *_constraints(schema)]


def _constraints(schema: Mapping[str, Any]) -> Iterator[str]:
    bounds = {
        "minLength": "at least {} character",
        "maxLength": "at most {} character",
        "minItems": "at least {} item",
        "maxItems": "at most {} item",
        "minimum": "at least {}",
        "maximum": "at most {}",
        "exclusiveMinimum": "more than {}",
        "exclusiveMaximum": "less than {}",
    }
    for key, phrase in bounds.items():
        if key in schema:
            plural = "s" if key.endswith(("Length", "Items")) and schema[key] != 1 else ""
            yield phrase.format(schema[key]) + plural
    if pattern := schema.get("pattern"):
        yield KNOWN_PATTERNS.get(pattern, f"matches `{pattern}`")
    if "default" in schema:
        yield f"default {json.dumps(schema['default'])}"
    if examples := schema.get("examples"):
        yield "e.g. " + ", ".join(json.dumps(example) for example in examples)
    for member in schema.get("anyOf", []):
        yield from _constraints(member)
