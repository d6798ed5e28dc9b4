"""Health, readiness, Prometheus metrics and the browser sign-in link, the same on every service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, field_validator

from skileez_web.auth import COOKIE, decode_token
from skileez_web.openapi import REDIRECT, Api
from skileez_web.problems import Handler, Problem, parse_query

HTTP_REQUESTS = Counter(
    "skileez_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "skileez_http_request_seconds", "HTTP request latency", ["method", "route"]
)

ReadinessCheck = Callable[[], Awaitable[bool]]
READINESS = web.AppKey("readiness", dict[str, ReadinessCheck])
JWT_SECRET = web.AppKey("jwt_secret", str)


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, bool]


class SignIn(BaseModel):
    token: str = Field(min_length=1)
    next: str = Field(default="/", description="a path on this service")

    @field_validator("next")
    @classmethod
    def _a_local_path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//") or "\\" in value:
            raise ValueError("must be a path on this service")
        return value


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
    results = {}
    for name, check in request.app[READINESS].items():
        try:
            results[name] = await check()
        except Exception:
            results[name] = False
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


@standard_api.operation(
    "GET",
    "/auth/session",
    summary="Sign a browser in: store a valid token in the skileez_token cookie, then go on",
    query=SignIn,
    responses={303: REDIRECT, 401: None, 422: None},
    auth=False,
)
async def sign_in(request: web.Request) -> web.Response:
    query = parse_query(request, SignIn)
    decode_token(query.token, request.app[JWT_SECRET])
    response = web.HTTPSeeOther(query.next)
    response.set_cookie(COOKIE, query.token, httponly=True, samesite="Lax", path="/")
    raise response
