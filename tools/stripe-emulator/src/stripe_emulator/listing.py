"""Stripe's list endpoints: cursor pagination and `created` range filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from stripe_emulator.expand import expand
from stripe_emulator.objects import list_object
from stripe_emulator.store import Store, newest_first
from stripe_emulator.wire import (
    JsonObject,
    StripeError,
    get_int,
    get_str,
    invalid_param,
    json_response,
    read_params,
    reject_unknown,
)

LIST_PARAMS = ("limit", "starting_after", "ending_before", "expand")


def paginate(objects: list[JsonObject], params: Mapping[str, Any], url: str) -> JsonObject:
    """One page of `objects` (already newest first) as a Stripe list object."""
    limit = get_int(params, "limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise invalid_param("limit", f"Invalid limit: must be between 1 and 100 (got {limit})")
    starting_after = get_str(params, "starting_after")
    ending_before = get_str(params, "ending_before")
    if starting_after and ending_before:
        raise StripeError(
            400, "You may only specify one of these parameters: ending_before, starting_after."
        )
    ids = [obj["id"] for obj in objects]
    if starting_after is not None:
        if starting_after not in ids:
            raise invalid_param(
                "starting_after",
                f"Invalid starting_after id: {starting_after}",
                "resource_missing",
            )
        rest = objects[ids.index(starting_after) + 1 :]
        return list_object(rest[:limit], url, has_more=len(rest) > limit)
    if ending_before is not None:
        if ending_before not in ids:
            raise invalid_param(
                "ending_before", f"Invalid ending_before id: {ending_before}", "resource_missing"
            )
        before = objects[: ids.index(ending_before)]
        return list_object(before[-limit:], url, has_more=len(before) > limit)
    return list_object(objects[:limit], url, has_more=len(objects) > limit)


def created_filter(params: Mapping[str, Any], name: str = "created") -> Callable[[int], bool]:
    """`created=T` or `created[gt|gte|lt|lte]=T` as a predicate on a timestamp."""
    value = params.get(name)
    if value is None or value == "":
        return lambda _: True
    if isinstance(value, str):
        exact = get_int(params, name)
        return lambda created: created == exact
    if not isinstance(value, dict):
        raise invalid_param(name, f"Invalid {name}: must be an integer or a hash")
    bounds: dict[str, int] = {}
    for op, raw in value.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise StripeError(
                400,
                f"Received unknown parameter: {name}[{op}]",
                code="parameter_unknown",
                param=f"{name}[{op}]",
            )
        number = get_int({op: raw}, op, param=f"{name}[{op}]")
        assert number is not None
        bounds[op] = number

    def matches(created: int) -> bool:
        return (
            ("gt" not in bounds or created > bounds["gt"])
            and ("gte" not in bounds or created >= bounds["gte"])
            and ("lt" not in bounds or created < bounds["lt"])
            and ("lte" not in bounds or created <= bounds["lte"])
        )

    return matches


async def charge_children_response(
    request: web.Request, store: Store, objects: dict[str, JsonObject], url: str
) -> web.Response:
    """`GET /v1/refunds` and `/v1/disputes`: filtered by `charge`, `payment_intent`, `created`."""
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "charge", "payment_intent", "created"))
    charge = get_str(params, "charge")
    intent = get_str(params, "payment_intent")
    created = created_filter(params)
    matching = [
        obj
        for obj in newest_first(objects)
        if (charge is None or obj["charge"] == charge)
        and (intent is None or obj["payment_intent"] == intent)
        and created(obj["created"])
    ]
    return json_response(expand(store, paginate(matching, params, url), params))
