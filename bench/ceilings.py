"""The ceilings, measured in the same run on the same machine: what bare libraries reach.

Each runs in a process of its own (like the load generator), so the bench's own process is
not what limits it: an asyncpg transaction that updates one row and inserts one, and aio-pika
publish-with-confirm (many in flight) and consume-ack (prefetch 100) on a quorum queue.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import asyncpg
import uvloop

DB_WORKERS = 16
PUBLISH_WINDOW = 500
PREFETCH = 100


def asyncpg_transactions(dsn: str, seconds: float) -> float:
    """UPDATE one row + INSERT one, committed, by 16 concurrent connections: tx/s."""
    return uvloop.run(_asyncpg_transactions(dsn, seconds))


async def _asyncpg_transactions(dsn: str, seconds: float) -> float:
    setup = await asyncpg.connect(dsn)
    await setup.execute(
        "CREATE TABLE IF NOT EXISTS ceiling_rows (id int PRIMARY KEY, n bigint NOT NULL);"
        "CREATE TABLE IF NOT EXISTS ceiling_log (seq bigserial PRIMARY KEY, row_id int,"
        " body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
        "INSERT INTO ceiling_rows SELECT g, 0 FROM generate_series(1, 10000) g"
        " ON CONFLICT DO NOTHING"
    )
    await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=DB_WORKERS, max_size=DB_WORKERS)
    body = b"x" * 600
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        row = offset
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                row = row % 10000 + 1
                async with conn.transaction():
                    await conn.execute("UPDATE ceiling_rows SET n = n + 1 WHERE id = $1", row)
                    await conn.execute(
                        "INSERT INTO ceiling_log (row_id, body) VALUES ($1, $2)", row, body
                    )
                done += 1
                row += DB_WORKERS * 7

    started = time.perf_counter()
    await asyncio.gather(*(worker(i * 613) for i in range(DB_WORKERS)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return done / elapsed


def amqp_publish_and_consume(amqp_url: str, namespace: str, messages: int) -> tuple[float, float]:
    """(publish-with-confirm msg/s with many in flight, consume-ack msg/s with prefetch 100)."""
    return uvloop.run(_amqp(amqp_url, namespace, messages))


async def _amqp(amqp_url: str, namespace: str, messages: int) -> tuple[float, float]:
    queue_name = f"{namespace}bench.ceiling.{uuid.uuid4().hex[:8]}"
    body = b"x" * 700
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        window = asyncio.Semaphore(PUBLISH_WINDOW)

        async def publish(index: int) -> None:
            async with window:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        message_id=str(index),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=queue_name,
                    mandatory=True,
                )

        started = time.perf_counter()
        await asyncio.gather(*(publish(i) for i in range(messages)))
        publish_rate = messages / (time.perf_counter() - started)

        consumer_channel = await connection.channel()
        await consumer_channel.set_qos(prefetch_count=PREFETCH)
        consumed = 0
        all_in = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal consumed
            await message.ack()
            consumed += 1
            if consumed == messages:
                all_in.set()

        queue = await consumer_channel.get_queue(queue_name)
        started = time.perf_counter()
        tag = await queue.consume(on_message)
        await asyncio.wait_for(all_in.wait(), 120)
        consume_rate = messages / (time.perf_counter() - started)
        await queue.cancel(tag)
        await channel.queue_delete(queue_name)
    return publish_rate, consume_rate
