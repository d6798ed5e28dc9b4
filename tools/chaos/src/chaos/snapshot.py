"""Reading a run's `State` for the checker: each service's tables (straight from PostgreSQL,
not through the run's proxies), its namespace's queues, and Stripe's side from the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import asyncpg

from chaos.checker import Row, State
from skileez_events import broker
from skileez_events.topology import Names
from skileez_system.system import ALL_SERVICES, SERVICES

TABLES = {
    "payments": ("payments", "payment_reviews", "contracts"),
    "contracts": ("contracts", "notifications"),
    "scheduling": ("contracts", "sessions"),
}


async def _rows(connection: asyncpg.Connection, table: str) -> list[Row]:
    return [dict(row) for row in await connection.fetch(f'SELECT * FROM "{table}"')]  # noqa: S608


async def service_tables(server_dsn: str, prefix: str) -> dict[str, dict[str, list[Row]]]:
    """Per service: its domain tables, `outbox` (bodies decoded to `data`) and `inbox`."""
    found: dict[str, dict[str, list[Row]]] = {}
    for service in ALL_SERVICES:
        dsn = server_dsn.rsplit("/", 1)[0] + f"/{prefix}{service}"
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            tables = {table: await _rows(connection, table) for table in TABLES.get(service, ())}
            tables["inbox"] = await _rows(connection, "inbox")
            publishes = service in SERVICES  # the backoffice publishes nothing: no outbox
            outbox = await _rows(connection, "outbox") if publishes else []
            for row in outbox:
                row["data"] = json.loads(row.pop("body")).get("data", {})
            tables["outbox"] = outbox
        finally:
            await connection.close()
        found[service] = tables
    return found


async def queue_depths(amqp_url: str, names: Names) -> tuple[dict[str, int], list[Row]]:
    """Messages ready in every queue of the namespace (passively: a queue never declared is 0),
    and what the kept ones (dead letters, unrouted) are: looked at, left in place."""
    depths: dict[str, int] = {}
    kept: list[Row] = []
    async with await broker.connect(amqp_url) as connection:
        for queue in names.all_queues():
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
                depths[queue] = declared.declaration_result.message_count or 0
                if depths[queue] and is_kept(queue):
                    while (message := await declared.get(no_ack=False, fail=False)) is not None:
                        kept.append(
                            {
                                "queue": queue,
                                "type": message.type or message.routing_key,
                                "id": message.message_id,
                            }
                        )
            except aio_pika.exceptions.ChannelClosed:
                depths[queue] = 0
            finally:
                if not channel.is_closed:
                    await channel.close()  # what was got and not acked goes back
    return depths, kept


def is_kept(queue: str) -> bool:
    """Queues whose messages stay until someone looks (they never drain by themselves)."""
    return queue.endswith((".dlq", "unrouted.kept"))


async def stripe_list(http: aiohttp.ClientSession, base: str, key: str, path: str) -> list[Any]:
    """Every object of one of Stripe's lists at the emulator, page by page."""
    found: list[Any] = []
    after = ""
    while True:
        async with http.get(
            f"{base}{path}?limit=100{after}", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            page = await response.json()
        found += page["data"]
        if not page.get("has_more") or not page["data"]:
            return found
        after = f"&starting_after={page['data'][-1]['id']}"


async def read_state(
    http: aiohttp.ClientSession,
    emulator_url: str,
    secret_key: str,
    server_dsn: str,
    prefix: str,
    amqp_url: str,
    names: Names,
) -> State:
    tables = await service_tables(server_dsn, prefix)
    queues, kept = await queue_depths(amqp_url, names)

    async def stripe(path: str) -> list[Any]:
        return await stripe_list(http, emulator_url, secret_key, path)

    return State(
        stripe_sessions=await stripe("/v1/checkout/sessions"),
        stripe_charges=await stripe("/v1/charges"),
        stripe_disputes=await stripe("/v1/disputes"),
        payments=tables["payments"]["payments"],
        payment_reviews=tables["payments"]["payment_reviews"],
        payment_contracts=tables["payments"]["contracts"],
        contracts=tables["contracts"]["contracts"],
        notifications=tables["contracts"]["notifications"],
        scheduling_contracts=tables["scheduling"]["contracts"],
        sessions=tables["scheduling"]["sessions"],
        outboxes={s: tables[s]["outbox"] for s in SERVICES if tables[s]["outbox"]},
        inboxes={s: tables[s]["inbox"] for s in ALL_SERVICES},
        queues=queues,
        kept_messages=kept,
        now=datetime.now(UTC),
    )
