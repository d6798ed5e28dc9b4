"""Stripe's webhook signature: HMAC-SHA256 of `"<t>.<raw body>"`, any `v1`, any of our secrets."""

from __future__ import annotations

import hashlib
import hmac


class InvalidSignature(Exception):
    """The payload is not provably from Stripe, or not recent; the reason is safe to show."""


def verify_signature(
    payload: bytes, header: str | None, secrets: list[bytes], tolerance: int, now: float
) -> None:
    """Raise `InvalidSignature` unless a `v1` signature matches one secret within `tolerance` s.

    The tolerance bounds both ways: a timestamp too far in the future is refused as well.
    """
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("malformed timestamp") from None
        elif key == "v1" and value.isascii() and value:
            # A hex digest is ASCII; anything else cannot match (and compare_digest refuses it).
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("no timestamp or no v1 signature")
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    signed = str(timestamp).encode() + b"." + payload
    for secret in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return
    raise InvalidSignature("no signature matches")
