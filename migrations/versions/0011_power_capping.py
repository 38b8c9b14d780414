"""Power capping: what each node offers for capping, and power-cap tasks with their
per-component work.

Capping work has a queue of its own beside the transition tasks: a patch waits only behind
earlier patches of the same component (a partial unique index holds one active patch per
component), a snapshot never waits, and neither waits behind a power transition. Exchanges
with BMCs are recorded in bmc_exchanges like those of transitions.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ACTIVE = "state IN ('ready','dispatched','running')"


def upgrade() -> None:
    op.add_column("components", sa.Column("capping", JSONB))
    op.execute("CREATE SEQUENCE power_cap_task_seq")
    op.create_table(
        "power_caps",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("requested_by", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    op.create_index("ix_power_caps_created_at", "power_caps", ["created_at"])
    op.create_table(
        "power_cap_tasks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("power_cap_id", sa.Uuid, sa.ForeignKey("power_caps.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("xname", sa.String(64), nullable=False),
        sa.Column("component_id", sa.Integer,
                  sa.ForeignKey("components.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False,
                  server_default=sa.text("nextval('power_cap_task_seq')")),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("operations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("requested", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("entries", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.create_index("ix_power_cap_tasks_cap", "power_cap_tasks", ["power_cap_id", "xname"])
    op.create_index("uq_power_cap_active_patch", "power_cap_tasks", ["component_id"],
                    unique=True, postgresql_where=sa.text(f"kind = 'patch' AND {_ACTIVE}"))
    op.create_index("ix_power_cap_tasks_queue", "power_cap_tasks", ["component_id", "seq"],
                    postgresql_where=sa.text("state = 'queued'"))
    op.create_index("ix_power_cap_tasks_runnable", "power_cap_tasks", ["state"],
                    postgresql_where=sa.text(_ACTIVE))
    op.add_column("bmc_exchanges", sa.Column(
        "cap_task_id", sa.BigInteger, sa.ForeignKey("power_cap_tasks.id", ondelete="CASCADE")))
    op.create_index("ix_bmc_exchanges_cap_task_id", "bmc_exchanges", ["cap_task_id"])


def downgrade() -> None:
    op.drop_index("ix_bmc_exchanges_cap_task_id", "bmc_exchanges")
    op.drop_column("bmc_exchanges", "cap_task_id")
    op.drop_table("power_cap_tasks")
    op.drop_table("power_caps")
    op.execute("DROP SEQUENCE power_cap_task_seq")
    op.drop_column("components", "capping")
