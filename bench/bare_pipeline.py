"""The bare pipeline ceiling: a payment's path of transactions and confirmed messages with none
of its logic, so that activation has a ceiling of its own shape, measured in the same run.

Three processes, run as the services are (uvloop, `web.run_app`, an asyncpg pool of 10, one
broker connection), on one database and the broker:
- `front`: `POST /pay` commits a transaction (UPDATE one row, INSERT one holding the body),
  answers, then publishes the body (persistent, mandatory, confirmed) to the first queue;
- `middle`: consumes it, commits a transaction, publishes to the second queue (confirmed), acks;
- `last`: consumes that, commits a transaction (stage 3: the flow is done), acks.

Both queues are quorum queues, consumed with prefetch 50 as the services do. Left out: the
signature check, parsing and validation, the outbox and inbox, locks and lookups. `batched`:
each process commits whatever has arrived while its previous transaction ran in one transaction
(an UPDATE of their rows and an INSERT of their bodies), one transaction at a time and of any
size; otherwise every flow has transactions of its own. Either way every message is published,
confirmed and acked on its own (the services ack a consumer batch in one frame where they can,
and run up to four batch transactions at once), so against the services it errs on the slow
side.
Started as `python -m bench.bare_pipeline ROLE PORT DSN AMQP_URL PREFIX batched|unbatched`;
ready at `GET /ready`.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Coroutine
from typing import Any

import aio_pika
import asyncpg
import uvloop
from aiohttp import web

ROWS = 10_000
PREFETCH = 50
STAGES = {"front": 1, "middle": 2, "last": 3}


async def create_schema(connection: asyncpg.Connection) -> None:
    """Called by the bench before it starts the processes (anew for each run)."""
    await connection.execute(
        "DROP TABLE IF EXISTS bare_rows, bare_log;"
        "CREATE TABLE bare_rows (id int PRIMARY KEY, n bigint NOT NULL);"
        "CREATE TABLE bare_log (seq bigserial PRIMARY KEY, stage int NOT NULL,"
        " body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    )
    await connection.execute(
        "INSERT INTO bare_rows SELECT g, 0 FROM generate_series(1, $1::int) g", ROWS
    )


def queue_names(prefix: str) -> tuple[str, str]:
    return f"{prefix}bare.first", f"{prefix}bare.second"


async def declare_queues(
    channel: aio_pika.abc.AbstractChannel, prefix: str
) -> list[aio_pika.abc.AbstractQueue]:
    """Declared by the bench before the stages start, so that they never race to create them."""
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    return [
        await channel.declare_queue(name, durable=True, arguments=arguments)
        for name in queue_names(prefix)
    ]


async def delete_queues(channel: aio_pika.abc.AbstractChannel, prefix: str) -> None:
    for name in queue_names(prefix):
        await channel.queue_delete(name)


class Stage:
    def __init__(self, role: str, dsn: str, amqp_url: str, prefix: str, batched: bool) -> None:
        self.number = STAGES[role]
        self.dsn, self.amqp_url = dsn, amqp_url
        self.prefix = prefix
        self.first, self.second = queue_names(prefix)
        self.batched = batched
        self._rows = itertools.count(self.number * 3_331)
        self._background: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[bytes, asyncio.Future[None]]] = []
        self._committing = False

    async def start(self, _app: web.Application) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)
        self.broker = await aio_pika.connect(self.amqp_url)
        self.channel = await self.broker.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=PREFETCH)
        queues = await declare_queues(self.channel, self.prefix)
        if self.number > 1:
            await queues[self.number - 2].consume(self.on_message)

    async def stop(self, _app: web.Application) -> None:
        await self.broker.close()
        await self.pool.close()

    async def commit(self, body: bytes) -> None:
        """`body` committed: in a transaction of its own, or in the next batch."""
        if not self.batched:
            await self._commit([body])
            return
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append((body, committed))
        if not self._committing:
            self._committing = True
            self._in_background(self._commit_waiting())
        await committed

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._commit([body for body, _ in batch])
                except Exception as error:
                    for _, committed in batch:
                        if not committed.done():
                            committed.set_exception(error)
                    continue
                except BaseException:
                    for _, committed in batch:
                        committed.cancel()
                    raise
                for _, committed in batch:
                    if not committed.done():
                        committed.set_result(None)
        finally:
            self._committing = False

    async def _commit(self, bodies: list[bytes]) -> None:
        rows = [next(self._rows) % ROWS + 1 for _ in bodies]
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "UPDATE bare_rows SET n = n + 1 WHERE id = ANY($1::int[])", rows
            )
            await connection.execute(
                "INSERT INTO bare_log (stage, body) SELECT $1, unnest($2::bytea[])",
                self.number,
                bodies,
            )

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # kept until done, so it is not collected mid-way
        task.add_done_callback(self._background.discard)

    async def publish(self, body: bytes, queue: str) -> None:
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self.channel.default_exchange.publish(message, routing_key=queue, mandatory=True)

    async def pay(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.commit(body)
        self._in_background(self.publish(body, self.first))
        return web.json_response({"received": True})

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await self.commit(message.body)
        if self.number == 2:
            await self.publish(message.body, self.second)
        await message.ack()


async def ready(_request: web.Request) -> web.Response:
    return web.json_response({"ready": True})


def main() -> None:
    role, port, dsn, amqp_url, prefix, batching = sys.argv[1:]
    stage = Stage(role, dsn, amqp_url, prefix, batching == "batched")
    app = web.Application()
    app.on_startup.append(stage.start)
    app.on_cleanup.append(stage.stop)
    app.router.add_get("/ready", ready)
    app.router.add_post("/pay", stage.pay)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(port), access_log=None, print=None)


if __name__ == "__main__":
    main()
