"""Power tiers: the tier of each task's next action, and whether a transition spans tiers.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transition_tasks", sa.Column("tier", sa.SmallInteger(), nullable=True))
    op.add_column("transitions", sa.Column("multi_tier", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    op.create_index("ix_task_tier", "transition_tasks", ["transition_id", "tier"],
                    postgresql_where=sa.text("tier IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_task_tier", table_name="transition_tasks")
    op.drop_column("transitions", "multi_tier")
    op.drop_column("transition_tasks", "tier")
