"""The Events API: list with Stripe's filters and pagination, retrieve; kept 30 days."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from stripe_emulator.listing import LIST_PARAMS, created_filter, paginate
from stripe_emulator.state import state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    StripeError,
    get_str,
    get_str_list,
    invalid_param,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()


def _type_matcher(pattern: str) -> Callable[[str], bool]:
    """`charge.refunded` matches itself; `charge.*` matches every `charge.` type."""
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda event_type: event_type.startswith(prefix)
    return lambda event_type: event_type == pattern


@routes.get("/v1/events")
async def list_events_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, (*LIST_PARAMS, "type", "types", "created", "delivery_success"))
    state.prune()
    single = get_str(params, "type")
    several = get_str_list(params, "types")
    if single and several:
        raise StripeError(400, "You may only specify one of these parameters: type, types.")
    if len(several) > 20:
        raise invalid_param("types", "You may pass at most 20 event types.")
    matchers = [_type_matcher(p) for p in ([single] if single else several)]
    created = created_filter(params)
    events = [
        event
        for event in newest_first(state.store.events)
        if (not matchers or any(match(event["type"]) for match in matchers))
        and created(event["created"])
    ]
    return json_response(paginate(events, params, "/v1/events"))


@routes.get("/v1/events/{id}")
async def retrieve_event_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    state.prune()
    event = state.store.events.get(request.match_info["id"])
    if event is None:
        raise no_such("event", request.match_info["id"])
    return json_response(event)
