"""Contract cancellations: the contract can no longer be paid, and the refund it owes, asked of
Stripe once, or held for an operator's decision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_cancellations",
        sa.Column("contract_id", sa.Uuid(), primary_key=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refund_status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.Uuid(), sa.ForeignKey("payments.id")),
        sa.Column("stripe_refund_id", sa.String(255)),
        sa.Column("held_reason", sa.Text()),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decision_note", sa.Text()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "refund_status IN ('none', 'asked', 'held', 'dropped')",
            name="contract_cancellations_refund_status",
        ),
    )
    op.create_index(
        "contract_cancellations_held",
        "contract_cancellations",
        ["received_at"],
        postgresql_where=sa.text("refund_status = 'held'"),
    )


def downgrade() -> None:
    op.drop_table("contract_cancellations")
