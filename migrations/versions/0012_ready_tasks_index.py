"""An index of ready tasks in queue order: a dispatcher pass takes the oldest few ready tasks
from it instead of sorting every runnable task (10,000 of them while a machine powers on).

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_task_ready ON transition_tasks (seq) WHERE state = 'ready'")


def downgrade() -> None:
    op.drop_index("ix_task_ready", table_name="transition_tasks")
