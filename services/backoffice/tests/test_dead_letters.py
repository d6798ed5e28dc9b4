"""The backoffice's own dead letters over HTTP (`/admin/dead-letters`), and replayed from the
console with a note, through the real broker."""

from __future__ import annotations

import re
import uuid

import aio_pika
import orjson
import pytest

from skileez_events import Names, event_type_of
from skileez_events.deadletters import dead_letter_queues
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.schemas import PaymentSucceeded
from skileez_events.testing import wait_until
from skileez_events.topology import SUBSCRIPTIONS
from skileez_web.auth import Role

from .conftest import Backoffice

pytestmark = pytest.mark.timeout(60)


async def dead_letter(backoffice: Backoffice) -> str:
    """A PaymentSucceeded without its data: the consumer dead-letters it at once."""
    message_id = str(uuid.uuid4())
    body = orjson.dumps(
        {
            "specversion": "1.0",
            "id": message_id,
            "source": "/skileez/payments",
            "type": event_type_of(PaymentSucceeded),
            "time": "2026-11-02T10:00:00Z",
            "correlationid": "c",
            "data": {"amount": -1},
        }
    )
    exchange = await backoffice.channel.get_exchange(backoffice.names.exchange("payments"))
    await exchange.publish(
        aio_pika.Message(body, message_id=message_id, content_type=CONTENT_TYPE, type="x"),
        routing_key=event_type_of(PaymentSucceeded),
    )
    return message_id


async def test_an_admin_lists_and_replays_a_dead_letter_and_the_replay_is_audited(
    backoffice: Backoffice,
) -> None:
    message_id = await dead_letter(backoffice)

    async def listed() -> list[dict[str, object]]:
        status, body = await backoffice.call("GET", "/admin/dead-letters")
        assert status == 200, body
        return [letter for letter in body["dead_letters"] if letter["message_id"] == message_id]

    [letter] = await wait_until(listed)
    assert (
        letter["queue"]
        == backoffice.names.queue("backoffice", event_type_of(PaymentSucceeded)) + ".dlq"
    )
    assert '"amount":-1' in str(letter["body"])
    for role in (Role.STUDENT, Role.COACH):
        assert (await backoffice.call("GET", "/admin/dead-letters", role=role))[0] == 403

    _, page = await backoffice.call("GET", "/console/dead-letters", headers={"Accept": "text/html"})
    assert f"/console/dead-letters/backoffice/{message_id}/replay" in page
    status, _ = await backoffice.call(
        "POST",
        f"/console/dead-letters/backoffice/{message_id}/replay",
        data={"note": "the producer is fixed"},
    )
    assert status == 303
    async with backoffice.engine.connect() as conn:
        entry = (await conn.exec_driver_sql("SELECT * FROM audit_log")).mappings().one()
    assert (entry["action"], entry["subject"], entry["succeeded"], entry["note"]) == (
        "dead_letter_replay",
        f"backoffice/{message_id}",
        True,
        "the producer is fixed",
    )
    # Still malformed: the consumer dead-letters it again, and it is listed once more.
    [again] = await wait_until(listed)
    assert again["message_id"] == message_id
    _, page = await backoffice.call(
        "GET", f"/console/dead-letters?done={entry['id']}", headers={"Accept": "text/html"}
    )
    assert re.search(r"Dead letter replay done:</strong> 200", page)


async def test_replaying_an_unknown_letter_is_a_404(backoffice: Backoffice) -> None:
    status, problem = await backoffice.call("POST", "/admin/dead-letters/nothing-here/replay")
    assert (status, problem["code"]) == (404, "dead_letter_not_found")
    status, _ = await backoffice.call(
        "POST", "/console/dead-letters/nowhere/x/replay", data={"note": "why"}
    )
    assert status == 404


def test_a_service_sees_only_its_own_dead_letter_queues() -> None:
    """Its broker user may read no other consumer's queue."""
    names = Names("ns.")
    own = dead_letter_queues(names, "backoffice")
    assert len(own) == len(SUBSCRIPTIONS["backoffice"])
    assert all(queue.startswith("ns.backoffice.") for queue in own)
    assert set(own) < set(dead_letter_queues(names))
