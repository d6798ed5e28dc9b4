"""Merging facts so that the order events arrive in never matters: each merge is commutative and
idempotent, so any order and any repeat of the same events gives the same view."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

T = TypeVar("T")


def earliest(current: datetime | None, seen: datetime | None) -> datetime | None:
    if current is None or seen is None:
        return current or seen
    return min(current, seen)


def latest(current: datetime | None, seen: datetime | None) -> datetime | None:
    if current is None or seen is None:
        return current or seen
    return max(current, seen)


def of_the_latest(
    current_at: datetime | None, current: T | None, at: datetime, seen: T, *, key: str = ""
) -> T | None:
    """The value that goes with the latest time: `seen` if `at` is later than `current_at`
    (at the same time, the greater of the two by `str`, so the choice never depends on order)."""
    if current_at is None or at > current_at:
        return seen
    if at == current_at and current is not None and str(seen) > str(current):
        return seen
    return current
