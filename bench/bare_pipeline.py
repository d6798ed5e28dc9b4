"""The bare pipeline ceiling: a payment's path of transactions and confirmed messages with none
of its logic, so that activation has a ceiling of its own shape, measured in the same run.

Three processes, run as the services are (uvloop, `web.run_app`, an asyncpg pool of 10, one
broker connection), on one database and the broker:
- `front`: `POST /pay` commits a transaction (UPDATE one row, INSERT one holding the body),
  answers, then publishes the body (persistent, mandatory, confirmed) to the first queue;
- `middle`: consumes it, commits a transaction, publishes to the second queue (confirmed), acks;
- `last`: consumes that, commits a transaction (stage 3: the flow is done), acks.

Both queues are quorum queues, consumed with prefetch 50 as the services do. Left out: the
signature check, parsing and validation, the outbox and inbox, locks and lookups, batching.
Started as `python -m bench.bare_pipeline ROLE PORT DSN AMQP_URL PREFIX`; ready at `GET /ready`.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

import aio_pika
import asyncpg
import uvloop
from aiohttp import web

ROWS = 10_000
PREFETCH = 50
STAGES = {"front": 1, "middle": 2, "last": 3}


async def create_schema(connection: asyncpg.Connection) -> None:
    """Called by the bench before it starts the processes."""
    await connection.execute(
        "CREATE TABLE bare_rows (id int PRIMARY KEY, n bigint NOT NULL);"
        "CREATE TABLE bare_log (seq bigserial PRIMARY KEY, stage int NOT NULL,"
        " body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    )
    await connection.execute(
        "INSERT INTO bare_rows SELECT g, 0 FROM generate_series(1, $1::int) g", ROWS
    )


class Stage:
    def __init__(self, role: str, dsn: str, amqp_url: str, prefix: str) -> None:
        self.number = STAGES[role]
        self.dsn, self.amqp_url = dsn, amqp_url
        self.first, self.second = f"{prefix}bare.first", f"{prefix}bare.second"
        self._rows = itertools.count(self.number * 3_331)
        self._publishing: set[asyncio.Task[None]] = set()

    async def start(self, _app: web.Application) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)
        self.broker = await aio_pika.connect(self.amqp_url)
        self.channel = await self.broker.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=PREFETCH)
        arguments = {"x-queue-type": "quorum"}
        queues = [
            await self.channel.declare_queue(name, durable=True, arguments=arguments)
            for name in (self.first, self.second)
        ]
        if self.number > 1:
            await queues[self.number - 2].consume(self.on_message)

    async def stop(self, _app: web.Application) -> None:
        await self.broker.close()
        await self.pool.close()

    async def commit(self, body: bytes) -> None:
        row = next(self._rows) % ROWS + 1
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("UPDATE bare_rows SET n = n + 1 WHERE id = $1", row)
            await connection.execute(
                "INSERT INTO bare_log (stage, body) VALUES ($1, $2)", self.number, body
            )

    async def publish(self, body: bytes, queue: str) -> None:
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self.channel.default_exchange.publish(message, routing_key=queue, mandatory=True)

    async def pay(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.commit(body)
        task = asyncio.create_task(self.publish(body, self.first))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)
        return web.json_response({"received": True})

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await self.commit(message.body)
        if self.number == 2:
            await self.publish(message.body, self.second)
        await message.ack()


async def ready(_request: web.Request) -> web.Response:
    return web.json_response({"ready": True})


def main() -> None:
    role, port, dsn, amqp_url, prefix = sys.argv[1:]
    stage = Stage(role, dsn, amqp_url, prefix)
    app = web.Application()
    app.on_startup.append(stage.start)
    app.on_cleanup.append(stage.stop)
    app.router.add_get("/ready", ready)
    app.router.add_post("/pay", stage.pay)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(port), access_log=None, print=None)


if __name__ == "__main__":
    main()
