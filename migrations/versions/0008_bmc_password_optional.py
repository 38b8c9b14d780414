"""A BMC row may have no stored password: with SMD as the inventory source, BMC records come
from SMD and their credentials from Vault, never from this table.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("bmcs", "password_encrypted", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Fails (column contains null values) while rows without a password exist: they cannot be
    # given one here.
    op.alter_column("bmcs", "password_encrypted", existing_type=sa.LargeBinary(), nullable=False)
