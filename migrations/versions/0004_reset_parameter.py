"""The name of the parameter a component's power action takes (ResetType, or PowerState for
PDU outlets).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("components", sa.Column("reset_parameter", sa.String(length=32),
                                          nullable=False, server_default="ResetType"))


def downgrade() -> None:
    op.drop_column("components", "reset_parameter")
