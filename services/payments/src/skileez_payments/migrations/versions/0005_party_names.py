"""The display names of a contract's student and coach, when ContractCreated carries them.

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
    op.add_column("contracts", sa.Column("student_name", sa.Text))
    op.add_column("contracts", sa.Column("coach_name", sa.Text))


def downgrade() -> None:
    op.drop_column("contracts", "coach_name")
    op.drop_column("contracts", "student_name")
