"""The correlation id of a request: taken from `X-Correlation-Id` when the caller sends a sane
one, minted otherwise, echoed on the response, carried by every event the request causes and by
every line it logs."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from skileez_events.tracing import correlated
from skileez_web.problems import Handler

HEADER = "X-Correlation-Id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_KEY = web.RequestKey("correlation_id", str)


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(HEADER, "")
    request[_KEY] = given if _SANE.match(given) else str(uuid.uuid4())
    try:
        with correlated(request[_KEY]):
            response = await handler(request)
    except web.HTTPException as error:
        error.headers[HEADER] = request[_KEY]
        raise
    response.headers[HEADER] = request[_KEY]
    return response


def correlation_id(request: web.Request) -> str:
    return request[_KEY]
