"""Request ids, request logging and Stripe's error body for every refusal."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from stripe_emulator.objects import new_id
from stripe_emulator.wire import REQUEST_ID, StripeError, error_response

log = logging.getLogger("stripe_emulator.api")

API_PREFIX = "/v1/"


def is_api(request: web.Request) -> bool:
    return request.path.startswith(API_PREFIX)


def _unrecognised(request: web.Request) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({request.method}: {request.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )


@web.middleware
async def stripe_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give each request an id, render StripeError as Stripe does, and log the exchange."""
    request_id = new_id("req_", 14)
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except StripeError as error:
        response = error_response(error, request_id if is_api(request) else None)
        log.info(
            "%s %s -> %d %s (%s)",
            request.method,
            request.path,
            error.status,
            error.type,
            error.message,
        )
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if not is_api(request):
            raise
        response = error_response(_unrecognised(request), request_id)
        log.info("%s %s -> 404 unrecognised URL", request.method, request.path)
    else:
        if response.status < 400:
            log.info("%s %s -> %d", request.method, request.path, response.status)
    if is_api(request):
        response.headers["Request-Id"] = request_id
    return response
