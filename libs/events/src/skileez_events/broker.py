"""Connecting to RabbitMQ with bounded waits: a broker that accepts TCP and never answers (a
stalled node, a black hole) fails the attempt with a message naming it, instead of hanging."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractConnection
from yarl import URL

CONNECT_TIMEOUT = 10.0
"""Seconds for TCP, the protocol header and the AMQP handshake together."""

HEARTBEAT = 15
"""Seconds between heartbeats unless the URL sets its own: a connection that stops answering
once open is closed after three missed ones (about 48 s), not the default three minutes."""


async def connect(url: str, *, timeout: float | None = None) -> AbstractConnection:
    """An open connection to the broker at `url`, or `TimeoutError` naming it within `timeout`
    s (`CONNECT_TIMEOUT` by default).

    aio-pika's own `timeout` covers `aiormq.connect`, the handshake included; the outer one
    also covers what it awaits after."""
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    parsed = URL(url)
    if "heartbeat" not in parsed.query:
        parsed = parsed.update_query(heartbeat=HEARTBEAT)
    try:
        async with asyncio.timeout(timeout):
            return await aio_pika.connect(parsed, timeout=timeout)
    except TimeoutError as error:
        raise TimeoutError(
            f"RabbitMQ at {server_of(url)} accepted no AMQP handshake within {timeout:g} s"
        ) from error


def server_of(url: str) -> str:
    """`host:port` of a broker or database URL, without its credentials (for messages)."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"
