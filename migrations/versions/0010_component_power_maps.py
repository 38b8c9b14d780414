"""What powers each component (SMD's power maps): the outlets a node is fed by, so that an
outlet feeding a node that failed to shut down is not switched off under it.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("components", sa.Column("powered_by", JSONB, nullable=False,
                                          server_default=sa.text("'[]'::jsonb")))


def downgrade() -> None:
    op.drop_column("components", "powered_by")
