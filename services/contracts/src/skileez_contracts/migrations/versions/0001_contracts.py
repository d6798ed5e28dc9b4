"""Proposals, contracts, coach notifications, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
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
    op.create_table(
        "proposals",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("coach_id", sa.String(200), nullable=False),
        sa.Column("student_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("session_count", sa.Integer(), nullable=False),
        sa.Column("price_per_session", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('open', 'accepted', 'declined')", name="proposal_status"),
        sa.CheckConstraint("session_count > 0 AND price_per_session >= 0", name="proposal_price"),
    )
    op.create_index("ix_proposals_coach_id", "proposals", ["coach_id"])
    op.create_index("ix_proposals_student_id", "proposals", ["student_id"])

    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "proposal_id", sa.Uuid(), sa.ForeignKey("proposals.id"), nullable=False, unique=True
        ),
        sa.Column("student_id", sa.String(200), nullable=False),
        sa.Column("coach_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("session_count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.Uuid()),
        sa.Column("stripe_payment_intent_id", sa.String(255)),
        sa.Column("payment_date", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'active', 'cancelled')", name="contract_status"),
        sa.CheckConstraint(
            "payment_status IN ('pending', 'paid', 'failed', 'refunded')",
            name="contract_payment_status",
        ),
    )
    op.create_index("ix_contracts_payment_status", "contracts", ["payment_status"])
    op.create_index(
        "ix_contracts_stripe_payment_intent_id", "contracts", ["stripe_payment_intent_id"]
    )
    op.create_index("ix_contracts_student_id", "contracts", ["student_id", "created_at"])
    op.create_index("ix_contracts_coach_id", "contracts", ["coach_id", "created_at"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("recipient_id", sa.String(200), nullable=False),
        sa.Column("contract_id", sa.Uuid(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source_event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_notifications_recipient_id", "notifications", ["recipient_id", "created_at"]
    )

    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    op.drop_table("notifications")
    op.drop_table("contracts")
    op.drop_table("proposals")
