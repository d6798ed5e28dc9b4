"""Dead-letter queues and `unrouted.kept` are bounded by policies of the definitions, and
consumer queues dead-letter at least once (a letter a full dead-letter queue refuses waits).

Policies, not queue arguments, so an operator changes a limit in definitions.json (or with
`rabbitmqctl set_policy`) without redeclaring a queue. A dead-letter queue keeps its oldest
letters and refuses more (`reject-publish`: the first failures, which explain the rest, are
never pushed out); `unrouted.kept` drops its oldest (`drop-head`, so publishing never stalls:
a refusal there would leave relays retrying the same rows) and forgets after a message TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractExchange
from yarl import URL

from skileez_events.schemas import ContractCreated, event_type_of
from skileez_events.testing import wait_until
from skileez_events.topology import (
    DELIVERY_LIMIT,
    SUBSCRIPTIONS,
    declare_exchange,
    declare_subscription,
)

from .broker import (
    NAMES,
    SERVICES,
    declare_as,
    listed,
    policies_matching,
    policy_named,
)
from .conftest import rabbitmqctl

AT_LEAST_ONCE = "consumers-dead-letter-at-least-once"
DEAD_LETTERS = "dead-letters-bounded"
UNROUTED = "unrouted-bounded"


def every_consumer_queue() -> list[str]:
    return [
        NAMES.queue(service, event_type_of(model))
        for service, models in SUBSCRIPTIONS.items()
        for model in models
    ]


def test_every_dead_letter_queue_and_unrouted_kept_has_exactly_its_policy() -> None:
    for queue in every_consumer_queue():
        assert policies_matching(NAMES.dead_letter_queue(queue)) == [DEAD_LETTERS], queue
        assert policies_matching(queue) == [AT_LEAST_ONCE], queue
    assert policies_matching(NAMES.unrouted_queue) == [UNROUTED]
    assert policies_matching(f"test-0123.{NAMES.unrouted_queue}") == [UNROUTED]  # any namespace


def test_the_policies_bound_length_and_say_what_happens_when_full() -> None:
    at_least_once = policy_named(AT_LEAST_ONCE)
    assert at_least_once["apply-to"] == "queues"
    # The strategy needs reject-publish on the source queue (it sets no length limit on it).
    assert at_least_once["definition"] == {
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
    }
    dead_letters = policy_named(DEAD_LETTERS)
    assert dead_letters["apply-to"] == "queues"
    assert dead_letters["definition"] == {"max-length": 10_000, "overflow": "reject-publish"}
    unrouted = policy_named(UNROUTED)
    assert unrouted["apply-to"] == "queues"
    assert unrouted["definition"] == {
        "max-length": 100_000,
        "overflow": "drop-head",
        "message-ttl": 30 * 24 * 3600 * 1000,
    }


async def test_on_the_broker_the_policies_apply_to_the_queues_the_services_declare(
    broker_users,  # type: ignore[no-untyped-def]
) -> None:
    """The definitions imported, each service declares its queues under its own user: the
    broker lists each dead-letter queue and `unrouted.kept` under its policy, with its limits."""
    for service in SERVICES:
        await declare_as(broker_users.urls[service], service)
    vhost = broker_users.vhost
    policy_of = {
        row["name"]: row["policy"] for row in listed("list_queues", "-p", vhost, "name", "policy")
    }
    for queue in every_consumer_queue():
        assert policy_of[NAMES.dead_letter_queue(queue)] == DEAD_LETTERS, queue
        assert policy_of[queue] == AT_LEAST_ONCE, queue
    assert policy_of[NAMES.unrouted_queue] == UNROUTED
    on_broker = {row["name"]: row for row in listed("list_policies", "-p", vhost)}
    for name in (AT_LEAST_ONCE, DEAD_LETTERS, UNROUTED):
        assert json.loads(on_broker[name]["definition"]) == policy_named(name)["definition"]


LIMIT = 5
"""The limit of the small copies of the policies that the broker's behaviour is shown on."""
NOBODY = "skileez.contracts.Nobody.v1"
"""A routing key no queue is bound to: such an event goes to `unrouted`."""


def set_policy(vhost: str, name: str, **changes: Any) -> None:
    """The definitions' policy `name` on `vhost`, with some of its definition changed."""
    policy = policy_named(name)
    definition = {**policy["definition"], **changes}
    rabbitmqctl(
        "set_policy", "-p", vhost, "--apply-to", policy["apply-to"], "--priority",
        str(policy["priority"]), name, policy["pattern"], json.dumps(definition),
    )  # fmt: skip


@pytest.fixture
def small_vhost(amqp_url: str) -> Iterator[tuple[str, str]]:
    """A throw-away vhost with the definitions' policies at a limit of LIMIT messages; the
    test broker's user on it (it creates what the deployment's definitions would)."""
    vhost = f"test-policies-{uuid.uuid4().hex[:10]}"
    base = URL(amqp_url)
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, base.user or "guest", ".*", ".*", ".*")
        set_policy(vhost, AT_LEAST_ONCE)
        for name in (DEAD_LETTERS, UNROUTED):
            set_policy(vhost, name, **{"max-length": LIMIT})
        yield vhost, str(base.with_path(f"/{vhost}"))
    finally:
        rabbitmqctl("delete_vhost", vhost)


COUNTS = ("name", "messages", "messages_ready")
RETRY_SECONDS = 2
"""How soon the broker resends an unconfirmed dead letter in the test (180 s by default)."""
RETRY_SETTING = "dead_letter_worker_publisher_confirm_timeout"


@pytest.fixture
def quick_dead_letter_retries() -> Iterator[None]:
    """The broker's dead-letter retry interval at RETRY_SECONDS for the test (read by each
    queue's dead-letter worker as it starts), then as it was."""
    before = rabbitmqctl("eval", f"application:get_env(rabbit, {RETRY_SETTING}).").strip()
    rabbitmqctl("eval", f"application:set_env(rabbit, {RETRY_SETTING}, {RETRY_SECONDS * 1000}).")
    try:
        yield
    finally:
        if before == "undefined":
            rabbitmqctl("eval", f"application:unset_env(rabbit, {RETRY_SETTING}).")
        else:  # {ok,180000}
            value = before.removeprefix("{ok,").removesuffix("}")
            rabbitmqctl("eval", f"application:set_env(rabbit, {RETRY_SETTING}, {value}).")


@contextlib.asynccontextmanager
async def confirming_channel(url: str) -> AsyncIterator[AbstractChannel]:
    async with await aio_pika.connect(url) as connection:
        yield await connection.channel(publisher_confirms=True, on_return_raises=True)


async def count(channel: AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.message_count or 0)


async def head(channel: AbstractChannel, queue: str) -> bytes:
    declared = await channel.declare_queue(queue, passive=True)
    message = await declared.get(no_ack=False)
    await message.nack(requeue=True)
    return message.body


async def publish_until_refused(exchange: AbstractExchange, routing_key: str, most: int) -> int:
    """How many messages (numbered from 0) the broker confirmed before refusing one (nack)."""
    for number in range(most):
        try:
            await exchange.publish(aio_pika.Message(str(number).encode()), routing_key)
        except aio_pika.exceptions.DeliveryError:
            return number
    raise AssertionError(f"all {most} messages were confirmed: none was refused")


async def test_on_the_broker_a_full_dead_letter_queue_refuses_more_and_keeps_the_oldest(
    small_vhost: tuple[str, str],
) -> None:
    """Declared as the consumer declares it; fed as dead-lettering feeds it (through the
    consumer's dead-letter exchange): past the limit a letter is refused, the first stay."""
    vhost, url = small_vhost
    async with confirming_channel(url) as channel:
        queue = await declare_subscription(channel, NAMES, "payments", ContractCreated)
        dlq = NAMES.dead_letter_queue(queue.name)
        [row] = [
            r for r in listed("list_queues", "-p", vhost, "name", "policy") if r["name"] == dlq
        ]
        assert row["policy"] == DEAD_LETTERS
        dead_letters = await channel.get_exchange(NAMES.dead_letter_exchange("payments"))
        accepted = await publish_until_refused(dead_letters, queue.name, most=LIMIT + 2)
        # A quorum queue refuses once it is over its limit: it may hold one more.
        assert LIMIT <= accepted <= LIMIT + 1
        assert await count(channel, dlq) == accepted
        assert await head(channel, dlq) == b"0"


async def test_on_the_broker_a_full_unrouted_queue_drops_its_oldest(
    small_vhost: tuple[str, str],
) -> None:
    """Published as the relay publishes (confirms, `mandatory`) an event no one subscribes to:
    every one is confirmed (no relay ever stalls on it), and past the limit the oldest go."""
    _vhost, url = small_vhost
    async with confirming_channel(url) as channel:
        contracts = await declare_exchange(channel, NAMES, "contracts")
        published = LIMIT + 3
        for number in range(published):
            await contracts.publish(aio_pika.Message(str(number).encode()), NOBODY, mandatory=True)
        assert await count(channel, NAMES.unrouted_queue) == LIMIT
        assert await head(channel, NAMES.unrouted_queue) == str(published - LIMIT).encode()


async def test_on_the_broker_unrouted_kept_forgets_after_the_message_ttl(
    small_vhost: tuple[str, str],
) -> None:
    """The policy's TTL applies to the quorum queue (here half a second, not thirty days)."""
    vhost, url = small_vhost
    set_policy(vhost, UNROUTED, **{"max-length": LIMIT, "message-ttl": 500})  # before the queue
    async with confirming_channel(url) as channel:
        contracts = await declare_exchange(channel, NAMES, "contracts")
        await contracts.publish(aio_pika.Message(b"old"), NOBODY, mandatory=True)
        assert await count(channel, NAMES.unrouted_queue) == 1

        async def forgotten() -> bool:
            return await count(channel, NAMES.unrouted_queue) == 0

        await wait_until(forgotten, timeout=15)


async def test_on_the_broker_a_letter_a_full_dead_letter_queue_refuses_waits_in_its_queue(
    small_vhost: tuple[str, str],
    quick_dead_letter_retries: None,
) -> None:
    """At-least-once dead-lettering: a message rejected past the delivery limit while its
    dead-letter queue is full is not lost: its queue keeps it until the dead-letter queue
    has room, and then it is moved there."""
    vhost, url = small_vhost
    async with confirming_channel(url) as channel:
        queue = await declare_subscription(channel, NAMES, "payments", ContractCreated)
        dlq = NAMES.dead_letter_queue(queue.name)
        dead_letters = await channel.get_exchange(NAMES.dead_letter_exchange("payments"))
        accepted = await publish_until_refused(dead_letters, queue.name, most=LIMIT + 2)
        contracts = await declare_exchange(channel, NAMES, "contracts")
        await contracts.publish(aio_pika.Message(b"failing"), event_type_of(ContractCreated))
        for _ in range(DELIVERY_LIMIT + 1):  # the last one past the delivery limit
            message = await queue.get(no_ack=False)
            await message.nack(requeue=True)

        async def moved(source: int, dead: int) -> bool:
            counts = {r["name"]: r for r in listed("list_queues", "-p", vhost, *COUNTS)}
            return (counts[queue.name]["messages"], counts[queue.name]["messages_ready"]) == (
                source,
                0,
            ) and counts[dlq]["messages"] == dead

        # Kept (not delivered again, not lost) while the dead-letter queue refuses it...
        await wait_until(lambda: moved(source=1, dead=accepted), timeout=10)
        await asyncio.sleep(2)
        assert await moved(source=1, dead=accepted)
        # ...and moved there once it has room (the broker retries unconfirmed dead letters).
        await (await channel.declare_queue(dlq, passive=True)).purge()
        await wait_until(lambda: moved(source=0, dead=1), timeout=RETRY_SECONDS + 20)
        assert await head(channel, dlq) == b"failing"
