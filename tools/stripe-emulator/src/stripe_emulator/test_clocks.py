"""Test clocks: a frozen time for the customers attached to them; advancing one renews, charges
and ends their subscriptions as the time passes. The advance runs before the answer, which is
already `ready` (Stripe answers `advancing` and finishes in the background); both
`test_helpers.test_clock.advancing` and `.ready` are emitted."""

from __future__ import annotations

from aiohttp import web

from stripe_emulator.expand import expand
from stripe_emulator.listing import LIST_PARAMS, paginate
from stripe_emulator.objects import build_test_clock
from stripe_emulator.state import EmulatorState, origin_of, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.subscriptions import advance_subscriptions
from stripe_emulator.wire import (
    JsonObject,
    get_int,
    get_str,
    invalid_param,
    json_response,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

OBJECT = "test_helpers.test_clock"


def _get_clock(state: EmulatorState, clock_id: str) -> JsonObject:
    clock = state.store.test_clocks.get(clock_id)
    if clock is None:
        raise no_such(OBJECT, clock_id, "test_clock")
    return clock


@routes.post("/v1/test_helpers/test_clocks")
async def create_clock_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("frozen_time", "name", "expand"))
    frozen_time = get_int(params, "frozen_time", required=True, minimum=0)
    assert frozen_time is not None
    clock = build_test_clock(
        created=state.now(), frozen_time=frozen_time, name=get_str(params, "name")
    )
    state.store.test_clocks[clock["id"]] = clock
    state.emit("test_helpers.test_clock.created", clock, origin=origin_of(request))
    return json_response(expand(state.store, clock, params))


@routes.get("/v1/test_helpers/test_clocks/{id}")
async def retrieve_clock_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("expand",))
    return json_response(_get_clock(state, request.match_info["id"]))


@routes.get("/v1/test_helpers/test_clocks")
async def list_clocks_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, LIST_PARAMS)
    clocks = newest_first(state.store.test_clocks)
    return json_response(paginate(clocks, params, "/v1/test_helpers/test_clocks"))


@routes.post("/v1/test_helpers/test_clocks/{id}/advance")
async def advance_clock_route(request: web.Request) -> web.Response:
    """Move the clock to `frozen_time` (later than now), renewing what falls due on the way."""
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, ("frozen_time", "expand"))
    clock = _get_clock(state, request.match_info["id"])
    frozen_time = get_int(params, "frozen_time", required=True)
    assert frozen_time is not None
    if frozen_time <= clock["frozen_time"]:
        raise invalid_param(
            "frozen_time",
            "The test clock can only be advanced: frozen_time must be after its current "
            f"frozen_time ({clock['frozen_time']}).",
        )
    origin = origin_of(request)
    clock["status"] = "advancing"
    clock["status_details"] = {"advancing": {"target_frozen_time": frozen_time}}
    state.emit("test_helpers.test_clock.advancing", clock, origin=origin)
    clock["frozen_time"] = frozen_time
    advance_subscriptions(state, clock["id"])
    clock["status"] = "ready"
    clock["status_details"] = {}
    state.emit("test_helpers.test_clock.ready", clock, origin=origin)
    return json_response(expand(state.store, clock, params))


@routes.delete("/v1/test_helpers/test_clocks/{id}")
async def delete_clock_route(request: web.Request) -> web.Response:
    """Delete the clock with its customers and their cards, subscriptions and invoices, as
    Stripe does."""
    state = state_of(request)
    clock = _get_clock(state, request.match_info["id"])
    store = state.store
    for table in (store.customers, store.subscriptions, store.invoices):
        for object_id in [k for k, v in table.items() if v["test_clock"] == clock["id"]]:
            del table[object_id]
    for table, owner, kept in (
        (store.payment_methods, "customer", store.customers),
        (store.invoice_payments, "invoice", store.invoices),
    ):
        for object_id in [k for k, v in table.items() if v[owner] not in kept]:
            del table[object_id]
    del store.test_clocks[clock["id"]]
    state.emit("test_helpers.test_clock.deleted", clock, origin=origin_of(request))
    return json_response({"deleted": True, "id": clock["id"], "object": OBJECT})
