"""An index of each transition's unfinished tasks: the completion check after every task's end
probes it instead of walking the transition's finished tasks (quadratic at 10,000 tasks).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_task_unfinished ON transition_tasks (transition_id) "
               "WHERE state NOT IN ('succeeded', 'failed', 'unsupported')")


def downgrade() -> None:
    op.drop_index("ix_task_unfinished", table_name="transition_tasks")
