"""Alembic helpers: a service's migration creates the outbox and inbox exactly as defined here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData

from skileez_events.tables import inbox_table, outbox_table


def create_messaging_tables(op: Any) -> None:
    """Create the outbox and inbox tables (call from a service's Alembic `upgrade`)."""
    metadata = MetaData()
    outbox_table(metadata)
    inbox_table(metadata)
    metadata.create_all(op.get_bind())


def drop_messaging_tables(op: Any) -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
