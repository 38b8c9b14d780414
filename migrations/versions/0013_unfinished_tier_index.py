"""The tier index holds unfinished tasks only, with the predicate the tier queries state: the
tier gate's probe and the lowest open tier of a transition are one index probe each, where the
old index (every task with a tier) walked the finished ones too.

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_tier", table_name="transition_tasks")
    op.execute("CREATE INDEX ix_task_tier ON transition_tasks (transition_id, tier) "
               "WHERE state IN ('queued','ready','dispatched','running','deferred')")


def downgrade() -> None:
    op.drop_index("ix_task_tier", table_name="transition_tasks")
    op.execute("CREATE INDEX ix_task_tier ON transition_tasks (transition_id, tier) "
               "WHERE tier IS NOT NULL")
