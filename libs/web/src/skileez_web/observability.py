"""Health, readiness and Prometheus metrics, the same on every service."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel

from skileez_web.openapi import Api
from skileez_web.problems import Handler, Problem
from skileez_web.readiness import ReadinessChecks

HTTP_REQUESTS = Counter(
    "skileez_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "skileez_http_request_seconds", "HTTP request latency", ["method", "route"]
)

READINESS = web.AppKey("readiness", ReadinessChecks)


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, bool]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)


standard_api = Api("standard")


@standard_api.operation(
    "GET", "/health/live", summary="Liveness", responses={200: Liveness}, auth=False
)
async def live(_request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


@standard_api.operation(
    "GET",
    "/health/ready",
    summary="Readiness: the database answers and the consumers run",
    responses={200: Readiness, 503: None},
    auth=False,
)
async def ready(request: web.Request) -> web.Response:
    results = await request.app[READINESS].results()
    ok = all(results.values())
    body = {"status": "ready" if ok else "not_ready", "checks": results}
    if not ok:
        raise Problem(503, "not_ready", "Not ready yet.", checks=results)
    return web.json_response(body)


@standard_api.operation(
    "GET", "/metrics", summary="Prometheus metrics", responses={200: None}, auth=False
)
async def metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
