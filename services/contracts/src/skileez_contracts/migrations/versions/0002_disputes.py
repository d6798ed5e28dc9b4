"""Disputes: suspended contracts, disputed payments, the dispute of the paying payment; payment
news waiting for its payment's success.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("stripe_dispute_id", sa.String(255)))
    op.add_column("contracts", sa.Column("dispute_status", sa.String(16)))
    op.drop_constraint("contract_status", "contracts", type_="check")
    op.create_check_constraint(
        "contract_status", "contracts", "status IN ('pending', 'active', 'suspended', 'cancelled')"
    )
    op.drop_constraint("contract_payment_status", "contracts", type_="check")
    op.create_check_constraint(
        "contract_payment_status",
        "contracts",
        "payment_status IN ('pending', 'paid', 'failed', 'refunded', 'disputed')",
    )
    op.create_check_constraint(
        "contract_dispute_status", "contracts", "dispute_status IN ('open', 'won', 'lost')"
    )

    op.create_table(
        "waiting_payment_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_waiting_payment_events_payment_id",
        "waiting_payment_events",
        ["payment_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_table("waiting_payment_events")
    op.drop_constraint("contract_dispute_status", "contracts", type_="check")
    op.drop_constraint("contract_payment_status", "contracts", type_="check")
    op.create_check_constraint(
        "contract_payment_status",
        "contracts",
        "payment_status IN ('pending', 'paid', 'failed', 'refunded')",
    )
    op.drop_constraint("contract_status", "contracts", type_="check")
    op.create_check_constraint(
        "contract_status", "contracts", "status IN ('pending', 'active', 'cancelled')"
    )
    op.drop_column("contracts", "dispute_status")
    op.drop_column("contracts", "stripe_dispute_id")
