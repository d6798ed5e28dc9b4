"""The WebhookEndpoint API: endpoints added at run time, each with its own `whsec_` secret."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from stripe_emulator.listing import LIST_PARAMS, paginate
from stripe_emulator.objects import build_webhook_endpoint, new_id
from stripe_emulator.state import EmulatorState, state_of
from stripe_emulator.store import newest_first
from stripe_emulator.wire import (
    JsonObject,
    get_metadata,
    get_str,
    get_str_list,
    invalid_param,
    json_response,
    missing_param,
    no_such,
    read_params,
    reject_unknown,
)

routes = web.RouteTableDef()

_EVENT_PATTERN = re.compile(r"\*|[a-z_]+(\.[a-z_]+)*(\.\*)?")


def _url(params: Mapping[str, Any], required: bool) -> str | None:
    url = get_str(params, "url", required=required)
    if url is not None and not re.match(r"https?://[^\s/]+", url):
        raise invalid_param("url", "Invalid URL: url must be an http or https URL.", "url_invalid")
    return url


def _enabled_events(params: Mapping[str, Any], required: bool) -> list[str] | None:
    if "enabled_events" not in params:
        if required:
            raise missing_param("enabled_events")
        return None
    events = get_str_list(params, "enabled_events")
    if not events:
        raise missing_param("enabled_events")
    for event_type in events:
        if not _EVENT_PATTERN.fullmatch(event_type):
            raise invalid_param("enabled_events", f"Invalid event type: {event_type}")
    return events


def _get_endpoint(state: EmulatorState, endpoint_id: str) -> JsonObject:
    endpoint = state.store.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        raise no_such("webhook_endpoint", endpoint_id)
    return endpoint


@routes.post("/v1/webhook_endpoints")
async def create_endpoint_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(
        params, ("url", "enabled_events", "description", "metadata", "api_version", "expand")
    )
    url = _url(params, required=True)
    events = _enabled_events(params, required=True)
    assert url is not None
    assert events is not None
    endpoint = build_webhook_endpoint(
        created=state.now(),
        url=url,
        enabled_events=events,
        description=get_str(params, "description"),
        metadata=get_metadata(params),
        api_version=get_str(params, "api_version"),
    )
    secret = new_id("whsec_", 32)
    state.store.webhook_endpoints[endpoint["id"]] = endpoint
    state.store.webhook_secrets[endpoint["id"]] = secret
    # The secret is only ever shown in the create response, as Stripe does.
    return json_response({**endpoint, "secret": secret})


@routes.get("/v1/webhook_endpoints/{id}")
async def retrieve_endpoint_route(request: web.Request) -> web.Response:
    state = state_of(request)
    reject_unknown(await read_params(request), ("expand",))
    return json_response(_get_endpoint(state, request.match_info["id"]))


@routes.post("/v1/webhook_endpoints/{id}")
async def update_endpoint_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(
        params, ("url", "enabled_events", "description", "metadata", "disabled", "expand")
    )
    endpoint = _get_endpoint(state, request.match_info["id"])
    url = _url(params, required=False)
    events = _enabled_events(params, required=False)
    disabled = get_str(params, "disabled")
    if disabled not in (None, "true", "false"):
        raise invalid_param("disabled", "Invalid boolean: disabled must be true or false.")
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if "description" in params:
        endpoint["description"] = get_str(params, "description")
    if "metadata" in params:
        endpoint["metadata"] = {**endpoint["metadata"], **get_metadata(params)}
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled == "true" else "enabled"
    return json_response(endpoint)


@routes.delete("/v1/webhook_endpoints/{id}")
async def delete_endpoint_route(request: web.Request) -> web.Response:
    state = state_of(request)
    endpoint = _get_endpoint(state, request.match_info["id"])
    del state.store.webhook_endpoints[endpoint["id"]]
    del state.store.webhook_secrets[endpoint["id"]]
    return json_response({"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})


@routes.get("/v1/webhook_endpoints")
async def list_endpoints_route(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    reject_unknown(params, LIST_PARAMS)
    endpoints = newest_first(state.store.webhook_endpoints)
    return json_response(paginate(endpoints, params, "/v1/webhook_endpoints"))
