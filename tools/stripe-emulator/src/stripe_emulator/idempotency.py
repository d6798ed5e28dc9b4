"""Idempotency-Key: replay the first response, refuse the key with other parameters."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from stripe_emulator.errors import is_api
from stripe_emulator.state import state_of
from stripe_emulator.store import IdempotentResult
from stripe_emulator.wire import API_KEY, REQUEST_ID, StripeError, error_response, read_params

log = logging.getLogger("stripe_emulator.idempotency")


def _fingerprint(request: web.Request, params: object) -> str:
    return json.dumps([request.method, request.path, params], sort_keys=True)


def _saved(status: int) -> bool:
    # Stripe saves results once an endpoint started executing; validation refusals are not.
    return status < 400 or status == 402


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if not key or request.method != "POST" or not is_api(request):
        return await handler(request)
    if len(key) > 255:
        raise StripeError(
            400,
            "Idempotency-Key must be at most 255 characters long.",
            type="invalid_request_error",
        )
    state = state_of(request)
    scope = (request.get(API_KEY, ""), key)
    fingerprint = _fingerprint(request, await read_params(request))
    # Concurrent requests with one key run one at a time; the later ones replay.
    locks = state.idempotency_locks
    lock = locks.setdefault(scope, asyncio.Lock())
    try:
        async with lock:
            return await _run_once(request, handler, scope, key, fingerprint)
    finally:
        if not lock.locked():
            locks.pop(scope, None)


async def _run_once(
    request: web.Request,
    handler: Handler,
    scope: tuple[str, str],
    key: str,
    fingerprint: str,
) -> web.StreamResponse:
    state = state_of(request)
    saved = state.store.idempotency.get(scope)
    if saved is not None:
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                "they were first used with. Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        log.info("replaying %s %s for idempotency key %s", request.method, request.path, key)
        replay = web.Response(
            text=saved.body,
            status=saved.status,
            content_type="application/json",
            charset="utf-8",
        )
        replay.headers["Idempotent-Replayed"] = "true"
        replay.headers["Idempotency-Key"] = key
        return replay
    try:
        response = await handler(request)
    except StripeError as error:
        if not _saved(error.status):
            raise
        # A card error after the attempt was made (an invoice payment declined) is a result.
        response = error_response(error, request.get(REQUEST_ID))
    if isinstance(response, web.Response) and _saved(response.status):
        body = response.text or ""
        state.store.idempotency[scope] = IdempotentResult(
            fingerprint=fingerprint, status=response.status, body=body, created=state.now()
        )
    response.headers["Idempotency-Key"] = key
    return response
