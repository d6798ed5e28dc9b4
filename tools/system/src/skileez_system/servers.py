"""Before starting anything: PostgreSQL and RabbitMQ must answer within a bounded time, so a
stalled server (TCP accepted, nothing answered) stops the run at once with its name."""

from __future__ import annotations

import asyncpg

from skileez_events import broker
from skileez_events.broker import server_of

CHECK_TIMEOUT = 10.0


async def check_servers(postgres_url: str, amqp_url: str, timeout: float = CHECK_TIMEOUT) -> None:
    """Return when both answer; else `SystemExit` naming the one that did not, and why."""
    try:
        connection = await asyncpg.connect(postgres_url, timeout=timeout)
        await connection.close(timeout=timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        raise SystemExit(
            f"PostgreSQL at {server_of(postgres_url)} does not answer "
            f"({error or f'nothing within {timeout:g} s'}). Start it, or set POSTGRES_URL "
            "to a server URL whose user may create databases."
        ) from None
    try:
        connection = await broker.connect(amqp_url, timeout=timeout)
        await connection.close()
    except Exception as error:
        raise SystemExit(
            f"RabbitMQ at {server_of(amqp_url)} does not answer ({error}). Start it, or set "
            "AMQP_URL."
        ) from None
