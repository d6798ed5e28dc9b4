"""Health, readiness, metrics and an `/openapi.json` that matches what the service does."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp.test_utils import TestServer

from skileez_scheduling.entrypoints.app import create_app
from skileez_scheduling.settings import SchedulingSettings

from .conftest import SECRET, Scheduling, in_days

pytestmark = pytest.mark.timeout(60)


async def test_health_and_metrics(scheduling: Scheduling) -> None:
    assert await scheduling.call("GET", "/health/live", user=None) == (200, {"status": "live"})
    status, ready = await scheduling.call("GET", "/health/ready", user=None)
    assert status == 200
    assert ready["checks"] == {"database": True, "consumer": True}
    await scheduling.book(uuid.uuid4(), in_days(1))
    status, metrics = await scheduling.call("GET", "/metrics", user=None)
    assert status == 200
    assert 'route="/contracts/{contract_id}/sessions"' in metrics
    assert 'status="404"' in metrics


async def test_not_ready_while_the_broker_cannot_be_reached(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    settings = SchedulingSettings(
        database_url=await create_database("scheduling_unready"),
        amqp_url=f"amqp://guest:guest@127.0.0.1:{dead_port}/",
        jwt_secret=SECRET,
    )
    async with (
        TestServer(create_app(settings)) as server,
        aiohttp.ClientSession() as http,
        http.get(server.make_url("/health/ready")) as response,
    ):
        assert response.status == 503
        body = await response.json(content_type=None)
    assert body["code"] == "not_ready"
    assert body["checks"] == {"database": True, "consumer": False}


def conforms(spec: dict[str, Any], schema: dict[str, Any], body: Any) -> None:
    jsonschema.validate(body, {**schema, "components": spec["components"]})


def answer_schema(operation: dict[str, Any], status: int) -> dict[str, Any]:
    content = operation["responses"][str(status)]["content"]
    media = "application/problem+json" if status >= 400 else "application/json"
    schema: dict[str, Any] = content[media]["schema"]
    return schema


async def test_openapi_describes_every_route_and_real_answers_conform(
    scheduling: Scheduling,
) -> None:
    status, spec = await scheduling.call("GET", "/openapi.json", user=None)
    assert status == 200
    paths = spec["paths"]
    for path, method in [
        ("/contracts/{contract_id}/sessions", "post"),
        ("/contracts/{contract_id}/sessions", "get"),
        ("/contracts/{contract_id}/schedule", "get"),
        ("/sessions/{session_id}", "get"),
        ("/sessions/{session_id}/cancel", "post"),
        ("/health/ready", "get"),
    ]:
        assert method in paths[path], (path, method)

    book = paths["/contracts/{contract_id}/sessions"]["post"]
    assert set(book["responses"]) >= {"201", "303", "400", "401", "402", "403", "404", "409", "422"}
    request_schema = book["requestBody"]["content"]["application/json"]["schema"]
    good = {"starts_at": in_days(1), "duration_minutes": 60}
    conforms(spec, request_schema, good)
    with pytest.raises(jsonschema.ValidationError):
        conforms(spec, request_schema, {**good, "duration_minutes": 5})

    contract_id = await scheduling.active_contract()
    status, created = await scheduling.book(contract_id, good["starts_at"])
    conforms(spec, answer_schema(book, 201), created)
    _, cancelled = await scheduling.call("POST", f"/sessions/{created['id']}/cancel")
    cancel_op = paths["/sessions/{session_id}/cancel"]["post"]
    conforms(
        spec, cancel_op["responses"]["200"]["content"]["application/json"]["schema"], cancelled
    )
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    list_op = paths["/contracts/{contract_id}/sessions"]["get"]
    conforms(spec, answer_schema(list_op, 200), listed)
    status, problem = await scheduling.book(contract_id, "yesterday")
    conforms(spec, answer_schema(book, 422), problem)


async def test_every_answer_of_the_booking_route_is_declared(scheduling: Scheduling) -> None:
    """Each status the route gave in these tests is one the document declares."""
    _, spec = await scheduling.call("GET", "/openapi.json", user=None)
    declared = set(spec["paths"]["/contracts/{contract_id}/sessions"]["post"]["responses"])
    contract_id = await scheduling.active_contract(session_count=1)
    answers = {
        (await scheduling.book(contract_id, in_days(1)))[0],
        (await scheduling.book(contract_id, in_days(2)))[0],
        (await scheduling.book(uuid.uuid4(), in_days(1)))[0],
        (await scheduling.book(contract_id, in_days(1), user="nobody"))[0],
        (await scheduling.book(contract_id, "soon"))[0],
        (await scheduling.book(contract_id, in_days(3), user=None))[0],
        (await scheduling.call("POST", f"/contracts/{contract_id}/sessions", data="x"))[0],
    }
    assert answers == {201, 409, 404, 403, 422, 401, 415}
    assert {str(status) for status in answers} <= declared
