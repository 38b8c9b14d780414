"""SMD service reservations held by tasks, and state pushes to SMD waiting to be retried.

A task keeps the deputy key it acts under (its own reservation's, or the caller's) and, when the
reservation is its own, the reservation key that renews and releases it. The outbox holds on/off
states SMD has not taken yet.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transition_tasks", sa.Column("reservation_key", sa.String(128)))
    op.add_column("transition_tasks", sa.Column("reservation_deputy_key", sa.String(128)))
    op.add_column("transition_tasks", sa.Column("reservation_expires_at",
                                                sa.DateTime(timezone=True)))
    op.create_table(
        "smd_state_outbox",
        sa.Column("xname", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")))


def downgrade() -> None:
    op.drop_table("smd_state_outbox")
    op.drop_column("transition_tasks", "reservation_expires_at")
    op.drop_column("transition_tasks", "reservation_deputy_key")
    op.drop_column("transition_tasks", "reservation_key")
