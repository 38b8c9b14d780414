"""A task's Redfish task monitor (a BMC that answered 202), when its power state was last seen
moving, and a BMC's own CA certificates.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transition_tasks", sa.Column("task_monitor", sa.Text(), nullable=True))
    op.add_column("transition_tasks", sa.Column("moved_at", sa.DateTime(timezone=True),
                                                nullable=True))
    op.add_column("bmcs", sa.Column("ca_bundle", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("bmcs", "ca_bundle")
    op.drop_column("transition_tasks", "moved_at")
    op.drop_column("transition_tasks", "task_monitor")
