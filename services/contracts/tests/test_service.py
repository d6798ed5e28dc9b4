"""Health, readiness, metrics, and an `/openapi.json` that tells the truth about every route."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from skileez_contracts.entrypoints.app import create_app
from skileez_contracts.settings import ContractsSettings
from skileez_events import Names

UNUSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1/"


async def test_live_ready_and_metrics(service: Any) -> None:
    assert (await service.client.get("/health/live")).status == 200
    response = await service.client.get("/health/ready")
    assert response.status == 200
    assert (await response.json())["checks"] == {"database": True, "consumer": True}
    await service.client.get("/contracts", headers=service.student())
    metrics = await (await service.client.get("/metrics")).text()
    assert 'skileez_http_requests_total{method="GET",route="/contracts",status="200"}' in metrics


async def test_not_ready_while_the_consumer_cannot_reach_the_broker(
    create_database: Callable[[str], Awaitable[str]], events_names: Names
) -> None:
    settings = ContractsSettings(
        database_url=await create_database("contracts_unready"),
        amqp_url=UNUSED_PORT_URL,
        events_namespace=events_names.namespace,
        jwt_secret="s" * 64,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.get("/health/ready")
        assert response.status == 503
        assert (await response.json())["checks"] == {"database": True, "consumer": False}
        assert (await client.get("/health/live")).status == 200


async def test_the_openapi_document_lists_every_route(service: Any) -> None:
    spec = await (await service.client.get("/openapi.json")).json()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in service.client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    } - {("get", "/openapi.json")}
    described = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served == described
    create = spec["paths"]["/contracts"]["post"]
    declared = {"201", "303", "400", "401", "403", "404", "409", "413", "415", "422"}
    assert set(create["responses"]) == declared
    assert create["requestBody"]["content"] == {
        media_type: {"schema": {"$ref": "#/components/schemas/ContractIn"}}
        for media_type in (
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    }
    contract = spec["components"]["schemas"]["ContractOut"]
    assert set(contract["required"]) >= {"id", "status", "payment_status", "payment_url"}


async def test_every_answer_is_declared_and_none_is_a_500(service: Any) -> None:
    """A small fuzz: each operation, as each kind of caller, with good and bad input."""
    spec = await (await service.client.get("/openapi.json")).json()
    contract = await service.contract()
    offer = await service.propose()
    callers = [
        {},
        service.coach(),
        service.student(),
        service.student("student-2"),
        service.as_user("admin-1", "admin"),
    ]
    ids = [contract["id"], offer["id"], contract["proposal_id"], str(uuid.uuid4()), "x", "%00"]
    bodies: list[Any] = [
        None,
        b"",
        b"{",
        b"[]",
        b'{"proposal_id": null}',
        b'{"proposal_id": "' + offer["id"].encode() + b'"}',
        b'{"student_id": "s", "title": "t", "session_count": 1, "price_per_session": 1,'
        b' "currency": "usd"}',
        b'{"student_id": "s\\u0000", "title": "t", "session_count": 1e400,'
        b' "price_per_session": 1, "currency": "usd"}',
    ]
    queries = ["", "?limit=5", "?limit=-1", "?offset=abc", "?limit=" + "9" * 40]
    seen = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            declared = {int(status) for status in operation["responses"]}
            for headers in callers:
                for an_id in ids:
                    url = path.replace("{id}", an_id)
                    payloads = bodies if method == "post" else [None]
                    for body in payloads:
                        for query in queries if method == "get" else [""]:
                            response = await service.client.request(
                                method.upper(),
                                url + query,
                                data=body,
                                headers={**headers, "Content-Type": "application/json"},
                                allow_redirects=False,
                            )
                            seen += 1
                            assert response.status in declared, (
                                method,
                                url + query,
                                body,
                                response.status,
                                await response.text(),
                            )
    assert seen > 500
