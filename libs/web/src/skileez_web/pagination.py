"""Keyset pagination, the one shape of every list that can grow: `?cursor=&limit=` in, a page
and its `next_cursor` out. A cursor is opaque to clients: the (time, id) of the page's last
item, where the next page starts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from skileez_web.problems import Problem

T = TypeVar("T")

Position = tuple[datetime, UUID]
"""Where a page ends: its last item's ordering time and id."""


class PageQuery(BaseModel):
    """`?cursor=&limit=`: a page of `limit` items after the one `cursor` names."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the page before"
    )
    limit: int = Field(default=50, ge=1, le=200)

    @property
    def after(self) -> Position | None:
        """The position the cursor names (422 `invalid_cursor` if this API did not give it)."""
        return None if self.cursor is None else position_of(self.cursor)


def cursor_of(position: Position) -> str:
    """The opaque cursor of the page that starts after `position`."""
    at, item_id = position
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def position_of(cursor: str) -> Position:
    """Where `cursor` says the page starts; 422 `invalid_cursor` for one `cursor_of` did not
    make."""
    try:
        at, item_id = base64.urlsafe_b64decode(cursor).decode().split("|")
        position = datetime.fromisoformat(at), UUID(item_id)
    except ValueError:
        raise Problem(422, "invalid_cursor", "This cursor was not given by this API.") from None
    if position[0].tzinfo is None:
        raise Problem(422, "invalid_cursor", "This cursor was not given by this API.")
    return position


def page_of(
    fetched: list[T], limit: int, position: Callable[[T], Position]
) -> tuple[list[T], str | None]:
    """The page out of `fetched` (read with a limit of `limit + 1`, so one more item says
    there is a next page) and the cursor of that next page, or None on the last."""
    page = fetched[:limit]
    return page, cursor_of(position(page[-1])) if len(fetched) > limit else None
