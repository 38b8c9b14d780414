"""Each component's supported transitions, derived at discovery, so that PostgreSQL can serve
power-status for 10,000 components in one statement.

Revision ID: 0005
Revises: 0004
"""
import json

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("components", sa.Column(
        "supported_transitions", postgresql.JSONB(astext_type=sa.Text()), nullable=False,
        server_default=sa.text("'[]'::jsonb")))
    # Components discovered before this revision: derive theirs now (a handful of distinct
    # AllowableValues lists cover a whole machine).
    from pcs.domain.operations import supported_operations
    connection = op.get_bind()
    for (allowable,) in connection.execute(sa.text(
            "SELECT DISTINCT allowable_values FROM components")).all():
        supported = [o.value for o in supported_operations(list(allowable or []))]
        connection.execute(sa.text(
            "UPDATE components SET supported_transitions = CAST(:s AS jsonb) "
            "WHERE allowable_values = CAST(:a AS jsonb)"),
            {"s": json.dumps(supported), "a": json.dumps(allowable)})


def downgrade() -> None:
    op.drop_column("components", "supported_transitions")
