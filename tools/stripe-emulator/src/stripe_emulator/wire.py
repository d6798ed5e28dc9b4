"""Stripe's wire format: bracketed form parameters in, JSON objects and error bodies out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

JsonObject = dict[str, Any]

PARAMS: web.RequestKey[JsonObject] = web.RequestKey("stripe_params", dict)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("stripe_request_id", str)
API_KEY: web.RequestKey[str] = web.RequestKey("stripe_api_key", str)

_KEY_PART = re.compile(r"\[([^\]]*)\]")
DOCS = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """A refusal rendered as Stripe's `{"error": {...}}` body with its HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self, request_id: str | None = None) -> JsonObject:
        error: JsonObject = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}#{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if request_id is not None:
            error["request_log_url"] = (
                f"https://dashboard.stripe.com/test/logs/{request_id}?t=emulator"
            )
        return {"error": error}


def missing_param(name: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {name}.", code="parameter_missing", param=name
    )


def invalid_param(name: str, message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, message, code=code, param=name)


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def dumps(obj: Any) -> str:
    """Serialise the way Stripe does: pretty-printed JSON."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=dumps(obj), status=status, content_type="application/json", charset="utf-8"
    )


def error_response(error: StripeError, request_id: str | None = None) -> web.Response:
    return json_response(error.body(request_id), status=error.status)


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not rest:
        return [key]
    parts = [head]
    parts.extend(_KEY_PART.findall("[" + rest))
    return parts


def _listify(value: Any) -> Any:
    """Turn dicts keyed 0..n (from `a[0]=` or `a[]=`) into lists, recursively."""
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode_params(pairs: Iterable[tuple[str, str]]) -> JsonObject:
    """Decode `a[b][0][c]=v` / `expand[]=x` pairs into nested dicts and lists."""
    root: JsonObject = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                # `a[]=x` appends: give it the next free numeric index.
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    listified = _listify(root)
    assert isinstance(listified, dict)
    return listified


async def read_params(request: web.Request) -> JsonObject:
    """Read a request's parameters: the query string, plus the form body of a POST."""
    if PARAMS in request:
        return request[PARAMS]
    pairs = list(request.query.items())
    if request.method == "POST" and request.can_read_body:
        raw = await request.text()
        content_type = request.content_type
        if content_type == "application/json":
            raise StripeError(
                400,
                "Invalid request: the Stripe API takes application/x-www-form-urlencoded "
                "bodies, not JSON.",
            )
        pairs.extend(parse_qsl(raw, keep_blank_values=True))
    params = decode_params(pairs)
    request[PARAMS] = params
    return params


def reject_unknown(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """Refuse parameters the endpoint does not take, as Stripe does."""
    allowed_set = set(allowed)
    for name in params:
        if name not in allowed_set:
            full = f"{prefix}[{name}]" if prefix else name
            raise StripeError(
                400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full
            )


def get_str(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid_param(name, f"Invalid string: {name} must be a string.")
    return value


def get_int(
    params: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    param: str | None = None,
) -> int | None:
    label = param or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(label)
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise invalid_param(label, f"Invalid integer: {value}", "parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid_param(
            label,
            f"Invalid {label}: must be greater than or equal to {minimum}",
            "parameter_invalid_integer",
        )
    return number


def get_dict(params: Mapping[str, Any], name: str) -> JsonObject:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_param(name, f"Invalid object: {name} must be a hash.", "parameter_invalid")
    return value


def get_str_list(params: Mapping[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise invalid_param(name, f"Invalid array: {name} must be a list of strings.")


def get_metadata(params: Mapping[str, Any], name: str = "metadata") -> dict[str, str]:
    """Stripe's metadata rules: at most 50 keys, keys up to 40 and values up to 500 chars."""
    raw = get_dict(params, name)
    metadata: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid_param(f"{name}[{key}]", f"Invalid metadata value for key {key}.")
        if len(key) > 40:
            raise invalid_param(f"{name}[{key}]", "Metadata keys can have up to 40 characters.")
        if len(value) > 500:
            raise invalid_param(f"{name}[{key}]", "Metadata values can have up to 500 characters.")
        if value != "":
            metadata[key] = value
    if len(metadata) > 50:
        raise invalid_param(name, "Metadata can have up to 50 keys.")
    return metadata


def merged_metadata(current: dict[str, str], params: Mapping[str, Any]) -> dict[str, str]:
    """`current` updated with the request's `metadata`, where an empty value deletes its key."""
    raw = params.get("metadata")
    if not isinstance(raw, dict):
        return dict(current)
    merged = {**current, **get_metadata(params)}
    return {key: value for key, value in merged.items() if raw.get(key) != ""}
