"""Coach notifications are staged and written together when their transaction commits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from skileez_contracts.adapters.repositories import NotificationRepository
from skileez_contracts.adapters.unit_of_work import single_read
from skileez_contracts.domain.notifications import Notification, NotificationKind
from skileez_contracts.entrypoints.resources import ENGINE
from skileez_db.connections import transaction


def notifications_of(contract_id: str, count: int) -> list[Notification]:
    return [
        Notification(
            id=uuid.uuid4(),
            recipient_id="coach-1",
            contract_id=uuid.UUID(contract_id),
            kind=NotificationKind.PAYMENT_FAILED,
            message=f"note {n}",
            amount=None if n == 1 else 100 * n,
            currency="eur",
            created_at=datetime.now(UTC),
        )
        for n in range(count)
    ]


async def stored(service: Any) -> set[Notification]:
    async with single_read(service.client.app[ENGINE]) as uow:
        return set(await uow.notifications.for_recipient("coach-1", limit=50, offset=0))


async def test_the_notifications_of_a_transaction_are_written_together_value_for_value(
    service: Any,
) -> None:
    contract = await service.contract()
    notes = notifications_of(contract["id"], 3)
    async with transaction(service.client.app[ENGINE]) as connection:
        repository = NotificationRepository(connection)
        for n, note in enumerate(notes):
            repository.add(note, source_event_id=f"evt_{n}")
        assert await connection.fetchval("SELECT count(*) FROM notifications") == 0  # staged
    assert await stored(service) == set(notes)


async def test_two_notifications_for_one_event_fail_the_commit_and_write_nothing(
    service: Any,
) -> None:
    contract = await service.contract()

    async def notify_twice_for_one_event() -> None:
        async with transaction(service.client.app[ENGINE]) as connection:
            repository = NotificationRepository(connection)
            for note in notifications_of(contract["id"], 2):
                repository.add(note, source_event_id="evt_once")

    with pytest.raises(asyncpg.UniqueViolationError):
        await notify_twice_for_one_event()
    assert await stored(service) == set()
