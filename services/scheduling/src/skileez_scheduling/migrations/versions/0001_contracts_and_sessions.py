"""Scheduling's view of contracts, sessions with no overlaps per coach and per student, and the
outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from skileez_events.migrations import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("student_id", sa.String(200)),
        sa.Column("coach_id", sa.String(200)),
        sa.Column("session_count", sa.Integer),
        sa.Column("title", sa.Text),
        sa.Column("closed_reason", sa.Text),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("status IN ('pending', 'active', 'closed')", name="contracts_status"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("contract_id", sa.Uuid, sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("student_id", sa.String(200), nullable=False),
        sa.Column("coach_id", sa.String(200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booked_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_by", sa.String(200)),
        sa.Column("cancellation_reason", sa.Text),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name="sessions_status"),
        sa.CheckConstraint("ends_at > starts_at", name="sessions_ends_after_start"),
    )
    op.create_index("sessions_by_contract", "sessions", ["contract_id", "starts_at"])
    for party in ("coach", "student"):
        op.execute(
            f"ALTER TABLE sessions ADD CONSTRAINT sessions_{party}_no_overlap "
            f"EXCLUDE USING gist ({party}_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (status = 'scheduled')"
        )


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_table("contracts")
    drop_messaging_tables(op)
