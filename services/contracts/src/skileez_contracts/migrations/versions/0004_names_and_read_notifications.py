"""The display names of a proposal's and a contract's parties, and when a coach read each
notification.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("coach_name", sa.String(200)))
    op.add_column("proposals", sa.Column("student_name", sa.String(200)))
    op.add_column("contracts", sa.Column("student_name", sa.String(200)))
    op.add_column("contracts", sa.Column("coach_name", sa.String(200)))
    op.add_column("notifications", sa.Column("read_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("notifications", "read_at")
    op.drop_column("contracts", "coach_name")
    op.drop_column("contracts", "student_name")
    op.drop_column("proposals", "student_name")
    op.drop_column("proposals", "coach_name")
