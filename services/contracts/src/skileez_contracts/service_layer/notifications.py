"""The coach's messages about payments."""

from __future__ import annotations

from skileez_contracts.domain.notifications import Notification
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def notifications_of(
    user_id: str, uow: UnitOfWork, *, limit: int, offset: int
) -> list[Notification]:
    """The user's notifications, newest first."""
    return await uow.notifications.for_recipient(user_id, limit=limit, offset=offset)
