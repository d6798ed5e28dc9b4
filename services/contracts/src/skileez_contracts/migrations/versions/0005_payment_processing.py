"""The delayed payment of a pending contract the bank has yet to answer for (PaymentProcessing),
so its pages can say so, and the latest failed attempt, so late news of it is not current.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("processing_payment_id", sa.Uuid()))
    op.add_column("contracts", sa.Column("payment_processing_at", sa.DateTime(timezone=True)))
    op.add_column("contracts", sa.Column("failed_payment_id", sa.Uuid()))


def downgrade() -> None:
    op.drop_column("contracts", "failed_payment_id")
    op.drop_column("contracts", "payment_processing_at")
    op.drop_column("contracts", "processing_payment_id")
