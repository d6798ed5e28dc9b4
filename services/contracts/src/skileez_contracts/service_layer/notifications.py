"""The coach's messages about payments."""

from __future__ import annotations

from datetime import UTC, datetime

from skileez_contracts.domain.notifications import Notification
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def notifications_of(
    user_id: str, uow: UnitOfWork, *, limit: int, offset: int
) -> list[Notification]:
    """The user's notifications, newest first."""
    return await uow.notifications.for_recipient(user_id, limit=limit, offset=offset)


async def read_notifications(
    user_id: str, uow: UnitOfWork, *, limit: int, offset: int
) -> list[Notification]:
    """The user's notifications, newest first, as they were before this reading (the unread
    ones still unread), now marked read."""
    found = await notifications_of(user_id, uow, limit=limit, offset=offset)
    unread = [notification.id for notification in found if notification.read_at is None]
    if unread:
        await uow.notifications.mark_read(user_id, unread, datetime.now(UTC))
    return found
