"""The Stripe gateway: the few Stripe API calls payments makes, behind a small Protocol.

The real one drives stripe-python's async API over the application's shared aiohttp session,
with explicit retries and the caller's idempotency keys. It answers with plain JSON objects
(dicts shaped as Stripe documents them), read by `stripe_objects`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import stripe
from stripe.params import RefundCreateParams
from stripe.params.checkout import SessionCreateParamsLineItemPriceDataProductData

from skileez_payments import metrics
from skileez_payments.domain.contract import CheckoutLine

StripeJson = dict[str, Any]


class StripeUnavailable(Exception):
    """Stripe could not be reached or failed on its side: worth retrying later."""


class StripeRefused(Exception):
    """Stripe refused the request (invalid, not allowed): retrying will not help."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CheckoutRequest:
    contract_id: str
    payment_id: str
    title: str
    line: CheckoutLine
    currency: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    idempotency_key: str

    @property
    def amount(self) -> int:
        return self.line.amount


class StripeGateway(Protocol):
    async def create_checkout_session(self, request: CheckoutRequest) -> StripeJson: ...

    async def retrieve_checkout_session(self, session_id: str) -> StripeJson: ...

    async def expire_checkout_session(self, session_id: str) -> StripeJson: ...

    async def create_refund(
        self, payment_intent_id: str, amount: int | None, reason: str | None, idempotency_key: str
    ) -> StripeJson: ...

    def events_since(self, since: datetime, types: list[str]) -> AsyncIterator[StripeJson]: ...


class StripeApiGateway:
    def __init__(
        self,
        *,
        api_key: str,
        api_base: str,
        http: aiohttp.ClientSession,
        max_network_retries: int,
        timeout_seconds: float,
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.AIOHTTPClient(session=http, timeout=timeout_seconds),
        )

    async def create_checkout_session(self, request: CheckoutRequest) -> StripeJson:
        metadata = {"contract_id": request.contract_id, "payment_id": request.payment_id}
        product: SessionCreateParamsLineItemPriceDataProductData = {"name": request.title}
        if request.line.unit_label is not None:
            product["unit_label"] = request.line.unit_label
        with _translated_errors("checkout.sessions.create"):
            session = await self._client.v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": request.line.quantity,
                            "price_data": {
                                "currency": request.currency,
                                "unit_amount": request.line.unit_amount,
                                "product_data": product,
                            },
                        }
                    ],
                    "client_reference_id": request.contract_id,
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": request.success_url,
                    "cancel_url": request.cancel_url,
                    "expires_at": int(request.expires_at.timestamp()),
                },
                {"idempotency_key": request.idempotency_key},
            )
        return session.to_dict()

    async def retrieve_checkout_session(self, session_id: str) -> StripeJson:
        with _translated_errors("checkout.sessions.retrieve"):
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        return session.to_dict()

    async def expire_checkout_session(self, session_id: str) -> StripeJson:
        """Close an open session so it can no longer be paid (refused once it is not open)."""
        with _translated_errors("checkout.sessions.expire"):
            session = await self._client.v1.checkout.sessions.expire_async(
                session_id, options={"idempotency_key": f"skileez-expire-{session_id}"}
            )
        return session.to_dict()

    async def create_refund(
        self, payment_intent_id: str, amount: int | None, reason: str | None, idempotency_key: str
    ) -> StripeJson:
        params: RefundCreateParams = {"payment_intent": payment_intent_id}
        if amount is not None:
            params["amount"] = amount
        if reason in ("duplicate", "fraudulent", "requested_by_customer"):
            params["reason"] = reason
        with _translated_errors("refunds.create"):
            refund = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        return refund.to_dict()

    async def events_since(self, since: datetime, types: list[str]) -> AsyncIterator[StripeJson]:
        with _translated_errors("events.list"):
            page = await self._client.v1.events.list_async(
                {"created": {"gte": int(since.timestamp())}, "types": types, "limit": 100}
            )
            async for event in page.auto_paging_iter():
                yield event.to_dict()


@contextmanager
def _translated_errors(operation: str) -> Iterator[None]:
    """stripe-python's errors as the two kinds the service layer acts on (no secrets in them);
    the call's latency and failures counted under `operation` (`skileez_payments.metrics`)."""
    started = time.perf_counter()
    try:
        yield
    except stripe.StripeError as error:
        status = error.http_status or 0
        if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError) or status >= 500:
            metrics.STRIPE_CALL_ERRORS.labels(operation, "unavailable").inc()
            raise StripeUnavailable(type(error).__name__) from None
        metrics.STRIPE_CALL_ERRORS.labels(operation, "refused").inc()
        raise StripeRefused(error.user_message or type(error).__name__, error.code) from None
    finally:
        metrics.STRIPE_CALL_SECONDS.labels(operation).observe(time.perf_counter() - started)
