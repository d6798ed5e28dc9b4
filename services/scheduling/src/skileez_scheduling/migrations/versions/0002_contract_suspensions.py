"""A contract's latest suspension (a disputed payment) and reinstatement, in scheduling's view.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("suspended_at", sa.DateTime(timezone=True)))
    op.add_column("contracts", sa.Column("suspension_reason", sa.Text))
    op.add_column("contracts", sa.Column("reinstated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("contracts", "reinstated_at")
    op.drop_column("contracts", "suspension_reason")
    op.drop_column("contracts", "suspended_at")
