"""API key check: any `sk_test_`/`rk_test_` key is accepted, anything else gets Stripe's 401."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web
from aiohttp.typedefs import Handler

from stripe_emulator.errors import is_api
from stripe_emulator.wire import API_KEY, StripeError

MISSING_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def _masked(key: str) -> str:
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "****"


def api_key_of(request: web.Request) -> str | None:
    """The key from `Authorization: Bearer KEY` or Basic auth (key as user name)."""
    header = request.headers.get("Authorization", "").strip()
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return None


@web.middleware
async def api_key_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_api(request):
        return await handler(request)
    key = api_key_of(request)
    if not key:
        raise StripeError(401, MISSING_KEY)
    if not key.startswith(TEST_KEY_PREFIXES) or len(key) <= len("sk_test_"):
        raise StripeError(
            401,
            f"Invalid API Key provided: {_masked(key)}. The emulator accepts any test mode "
            "secret key (sk_test_...).",
            code="api_key_invalid" if not key.startswith("sk_live_") else "livemode_key",
        )
    request[API_KEY] = key
    return await handler(request)
