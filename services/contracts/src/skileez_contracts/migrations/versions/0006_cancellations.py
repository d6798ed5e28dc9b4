"""Cancellations: who ended a contract, why, and the refund it owes; what the paying payment
has had refunded; the contracts' sessions as scheduling reports them; a notification per event
and recipient (a cancellation tells both parties).

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

COLUMNS = (
    ("amount_refunded", sa.BigInteger(), sa.text("0")),
    ("cancelled_by", sa.String(200), None),
    ("cancelled_by_role", sa.String(16), None),
    ("cancellation_reason", sa.Text(), None),
    ("cancellation_refund", sa.BigInteger(), None),
    ("refunded_at_cancellation", sa.BigInteger(), sa.text("0")),
)


def upgrade() -> None:
    for name, kind, default in COLUMNS:
        op.add_column(
            "contracts",
            sa.Column(name, kind, nullable=default is None, server_default=default),
        )
    op.create_table(
        "contract_sessions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_contract_sessions_contract_id", "contract_sessions", ["contract_id", "starts_at"]
    )
    op.drop_constraint("notifications_source_event_id_key", "notifications", type_="unique")
    op.create_unique_constraint(
        "notifications_once_per_recipient", "notifications", ["source_event_id", "recipient_id"]
    )


def downgrade() -> None:
    op.drop_constraint("notifications_once_per_recipient", "notifications", type_="unique")
    # Before 0006 only the coach was told: the students' copies of a cancellation go.
    op.execute(
        "DELETE FROM notifications USING contracts WHERE notifications.contract_id = contracts.id"
        " AND notifications.recipient_id = contracts.student_id"
        " AND notifications.kind = 'contract_cancelled'"
    )
    op.create_unique_constraint(
        "notifications_source_event_id_key", "notifications", ["source_event_id"]
    )
    op.drop_table("contract_sessions")
    for name, _, _ in reversed(COLUMNS):
        op.drop_column("contracts", name)
