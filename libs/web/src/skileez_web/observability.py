"""Health, readiness and Prometheus metrics, the same on every service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from skileez_web.problems import Handler

HTTP_REQUESTS = Counter(
    "skileez_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "skileez_http_request_seconds", "HTTP request latency", ["method", "route"]
)

ReadinessCheck = Callable[[], Awaitable[bool]]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        HTTP_REQUESTS.labels(request.method, name, str(status)).inc()
        HTTP_LATENCY.labels(request.method, name).observe(time.perf_counter() - started)


def observability_routes(checks: dict[str, ReadinessCheck]) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/health/live")
    async def live(_request: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    @routes.get("/health/ready")
    async def ready(_request: web.Request) -> web.Response:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:
                results[name] = False
        ok = all(results.values())
        return web.json_response(
            {"status": "ready" if ok else "not_ready", "checks": results}, status=200 if ok else 503
        )

    @routes.get("/metrics")
    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    return routes
