"""Alembic helpers: a service's migration creates the outbox and inbox exactly as defined here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Interval, MetaData

from skileez_events.tables import inbox_table, outbox_table


def create_messaging_tables(op: Any) -> None:
    """Create the outbox and inbox tables as they first were (call from a service's first
    Alembic `upgrade`; later revisions change them with the helpers below)."""
    metadata = MetaData()
    outbox_table(metadata, leases=False)
    inbox_table(metadata)
    metadata.create_all(op.get_bind())


def drop_messaging_tables(op: Any) -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")


def add_outbox_leases(op: Any) -> None:
    """The outbox's `lease` column (`tables.outbox_table`): rows committed before it have none,
    so any relay claims them as before."""
    op.add_column("outbox", Column("lease", Interval, nullable=True))


def drop_outbox_leases(op: Any) -> None:
    op.drop_column("outbox", "lease")
