"""Initial schema: inventory, transitions, tasks, BMC exchanges, events.

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 21:55:06.628527
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bmcs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('xname', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('scheme', sa.String(length=8), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('password_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('verify_tls', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('xname')
    )
    op.create_table('transitions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('task_deadline_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_by', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_transitions_created_at', 'transitions', ['created_at'], unique=False)
    op.create_table('components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('xname', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('bmc_id', sa.Integer(), nullable=False),
    sa.Column('redfish_path', sa.String(length=512), nullable=False),
    sa.Column('reset_target', sa.String(length=512), nullable=True),
    sa.Column('allowable_values', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('power_state', sa.String(length=16), nullable=False),
    sa.Column('management_state', sa.String(length=16), nullable=False),
    sa.Column('status_error', sa.Text(), nullable=False),
    sa.Column('last_updated', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_polled', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bmc_id'], ['bmcs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('xname')
    )
    op.create_index(op.f('ix_components_bmc_id'), 'components', ['bmc_id'], unique=False)
    op.create_table('events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('transition_id', sa.Uuid(), nullable=True),
    sa.Column('xname', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['transition_id'], ['transitions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_events_transition_id'), 'events', ['transition_id'], unique=False)
    # Queue order: a monotonic number assigned when the transition is stored.
    op.execute("CREATE SEQUENCE transition_task_seq")
    op.create_table('transition_tasks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('transition_id', sa.Uuid(), nullable=False),
    sa.Column('xname', sa.String(length=64), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=True),
    sa.Column('deputy_key', sa.String(length=64), nullable=True),
    sa.Column('seq', sa.BigInteger(), server_default=sa.text("nextval('transition_task_seq')"), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('plan', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=True),
    sa.Column('action_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('resends', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['component_id'], ['components.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['transition_id'], ['transitions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_task_queue', 'transition_tasks', ['component_id', 'seq'], unique=False, postgresql_where=sa.text("state = 'queued'"))
    op.create_index('ix_task_runnable', 'transition_tasks', ['state', 'next_check_at'], unique=False, postgresql_where=sa.text("state IN ('ready','dispatched','running','deferred')"))
    op.create_index('ix_task_transition', 'transition_tasks', ['transition_id', 'xname'], unique=False)
    # DESIGN.md invariant 1: at most one active task per component, enforced by the database.
    op.create_index('uq_task_active_component', 'transition_tasks', ['component_id'], unique=True, postgresql_where=sa.text("state IN ('ready','dispatched','running','deferred')"))
    op.create_table('bmc_exchanges',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('bmc_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('request_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('error_class', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bmc_id'], ['bmcs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['transition_tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_bmc_exchanges_task_id'), 'bmc_exchanges', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bmc_exchanges_task_id'), table_name='bmc_exchanges')
    op.drop_table('bmc_exchanges')
    op.drop_index('uq_task_active_component', table_name='transition_tasks', postgresql_where=sa.text("state IN ('ready','dispatched','running','deferred')"))
    op.drop_index('ix_task_transition', table_name='transition_tasks')
    op.drop_index('ix_task_runnable', table_name='transition_tasks', postgresql_where=sa.text("state IN ('ready','dispatched','running','deferred')"))
    op.drop_index('ix_task_queue', table_name='transition_tasks', postgresql_where=sa.text("state = 'queued'"))
    op.drop_table('transition_tasks')
    op.execute("DROP SEQUENCE transition_task_seq")
    op.drop_index(op.f('ix_events_transition_id'), table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_components_bmc_id'), table_name='components')
    op.drop_table('components')
    op.drop_index('ix_transitions_created_at', table_name='transitions')
    op.drop_table('transitions')
    op.drop_table('bmcs')
