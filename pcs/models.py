"""Tables. The schema itself exists only through Alembic migrations (migrations/)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, Sequence, SmallInteger, String, Text, Uuid, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pcs.domain.states import (ACTIVE, ACTIVE_SQL, CAP_ACTIVE_SQL, FINAL,  # noqa: F401
                               TASK_STATUS_FOR, UNFINISHED_SQL, TaskState, sql_list)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSONB, list: JSONB}


# Task states: pcs.domain.states; these names are kept for the code that imports them here.
QUEUED, READY, DISPATCHED, RUNNING, DEFERRED = (
    TaskState.QUEUED, TaskState.READY, TaskState.DISPATCHED, TaskState.RUNNING, TaskState.DEFERRED)
SUCCEEDED, FAILED, UNSUPPORTED = TaskState.SUCCEEDED, TaskState.FAILED, TaskState.UNSUPPORTED
ACTIVE_STATES, FINAL_STATES = ACTIVE, FINAL

task_seq = Sequence("transition_task_seq")


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Bmc(Base):
    __tablename__ = "bmcs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    xname: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(255))          # host:port
    scheme: Mapped[str] = mapped_column(String(8), default="https")
    username: Mapped[str] = mapped_column(String(255))
    # None for a BMC whose credentials come from elsewhere (Vault, with SMD's inventory).
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    verify_tls: Mapped[bool] = mapped_column(Boolean, default=True)
    ca_bundle: Mapped[str | None] = mapped_column(Text)          # PEM; None: PCS_CA_BUNDLE
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("now()"))


class Component(Base):
    __tablename__ = "components"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    xname: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    bmc_id: Mapped[int] = mapped_column(ForeignKey("bmcs.id", ondelete="CASCADE"), index=True)
    redfish_path: Mapped[str] = mapped_column(String(512))      # the ComputerSystem (or Chassis...)
    reset_target: Mapped[str | None] = mapped_column(String(512))
    # The action's parameter: ResetType for Reset actions, PowerState for Outlet.PowerControl.
    reset_parameter: Mapped[str] = mapped_column(String(32), default="ResetType",
                                                 server_default="ResetType")
    allowable_values: Mapped[list] = mapped_column(JSONB, default=list)
    # Derived from allowable_values when discovered (domain.operations.supported_operations).
    supported_transitions: Mapped[list] = mapped_column(JSONB, default=list,
                                                        server_default=text("'[]'::jsonb"))
    # The outlets that feed it (SMD's power maps; empty in local mode).
    powered_by: Mapped[list] = mapped_column(JSONB, default=list,
                                             server_default=text("'[]'::jsonb"))
    power_state: Mapped[str] = mapped_column(String(16), default="undefined")
    management_state: Mapped[str] = mapped_column(String(16), default="unavailable")
    status_error: Mapped[str] = mapped_column(Text, default="")
    last_updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_polled: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the node offers for power capping (domain.capping.CapInfo.to_json); None: nothing
    # known. From SMD's RedfishSystemInfo, or from discovery over Redfish.
    capping: Mapped[dict | None] = mapped_column(JSONB)


class Transition(Base):
    __tablename__ = "transitions"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    operation: Mapped[str] = mapped_column(String(16))
    task_deadline_minutes: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[dict] = mapped_column(JSONB, default=dict)
    # True when its tasks' actions fall in more than one power tier (then they are gated).
    multi_tier: Mapped[bool] = mapped_column(Boolean, default=False,
                                             server_default=text("false"))
    __table_args__ = (Index("ix_transitions_created_at", "created_at"),)


class TransitionTask(Base):
    __tablename__ = "transition_tasks"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transitions.id", ondelete="CASCADE"))
    xname: Mapped[str] = mapped_column(String(64))
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("components.id", ondelete="SET NULL"))
    deputy_key: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger, task_seq, server_default=task_seq.next_value())
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[list] = mapped_column(JSONB, default=list)     # actions still to run, in order
    phase: Mapped[str] = mapped_column(String(16), default="gather")  # gather | apply | confirm
    action: Mapped[str | None] = mapped_column(String(32))     # the action being applied
    tier: Mapped[int | None] = mapped_column(SmallInteger)     # tier of the next action
    action_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    task_monitor: Mapped[str | None] = mapped_column(Text)   # path of a BMC's 202 task monitor
    # The last read that showed the state in motion (kept across re-sends): an On found Off
    # again after it fell back, rather than being ignored.
    moved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The SMD reservation the task acts under (INTEGRATION.md §2): the deputy key checked before
    # each tier (its own reservation's, or the caller's), and the reservation key when the
    # reservation is its own (renewed while it lives, released when it ends).
    reservation_deputy_key: Mapped[str | None] = mapped_column(String(128))
    reservation_key: Mapped[str | None] = mapped_column(String(128))
    reservation_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=text("now()"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # DESIGN.md invariant 1: at most one active task per component, enforced here.
        Index("uq_task_active_component", "component_id", unique=True,
              postgresql_where=text(f"state IN {ACTIVE_SQL}")),
        Index("ix_task_transition", "transition_id", "xname"),
        Index("ix_task_queue", "component_id", "seq",
              postgresql_where=text(f"state = '{TaskState.QUEUED}'")),
        Index("ix_task_runnable", "state", "next_check_at",
              postgresql_where=text(f"state IN {ACTIVE_SQL}")),
        Index("ix_task_ready", "seq", postgresql_where=text(f"state = '{TaskState.READY}'")),
        Index("ix_task_tier", "transition_id", "tier",
              postgresql_where=text(f"state IN {UNFINISHED_SQL}")),
        Index("ix_task_unfinished", "transition_id",
              postgresql_where=text(f"state NOT IN {sql_list(FINAL, separator=', ')}")),
    )


class BmcExchange(Base):
    __tablename__ = "bmc_exchanges"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("transition_tasks.id", ondelete="CASCADE"), index=True)
    cap_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("power_cap_tasks.id", ondelete="CASCADE"), index=True)
    bmc_id: Mapped[int | None] = mapped_column(ForeignKey("bmcs.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(32))  # gather|apply|resend|monitor|confirm|discover
    state: Mapped[str] = mapped_column(String(16))            # sending | done
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1024))
    request_body: Mapped[dict | None] = mapped_column(JSONB)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


cap_task_seq = Sequence("power_cap_task_seq")
_CAP_ACTIVE = f"state IN {CAP_ACTIVE_SQL}"


class PowerCap(Base):
    """A power-cap snapshot or patch (upstream's power-cap task)."""
    __tablename__ = "power_caps"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    type: Mapped[str] = mapped_column(String(16))                 # snapshot | patch
    status: Mapped[str] = mapped_column(String(16))               # new | in-progress | completed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[dict] = mapped_column(JSONB, default=dict,
                                               server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_power_caps_created_at", "created_at"),)


class PowerCapTask(Base):
    """One component's part of a power cap: queued, run by a worker, its entries recorded.

    Its own queue: a patch waits only behind earlier patches of the component, a snapshot
    never waits, and neither waits behind transitions."""
    __tablename__ = "power_cap_tasks"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    power_cap_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("power_caps.id", ondelete="CASCADE"))
    xname: Mapped[str] = mapped_column(String(64))
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("components.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))                 # snapshot | patch
    seq: Mapped[int] = mapped_column(BigInteger, cap_task_seq,
                                     server_default=cap_task_seq.next_value())
    state: Mapped[str] = mapped_column(String(16))
    operations: Mapped[int] = mapped_column(Integer, server_default="0")  # BMC ops still to run
    # [[control name, watts], ...] in request order (JSONB would not keep an object's order)
    requested: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    entries: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    attempt: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=text("now()"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_power_cap_tasks_cap", "power_cap_id", "xname"),
        Index("uq_power_cap_active_patch", "component_id", unique=True,
              postgresql_where=text(f"kind = 'patch' AND {_CAP_ACTIVE}")),
        Index("ix_power_cap_tasks_queue", "component_id", "seq",
              postgresql_where=text(f"state = '{TaskState.QUEUED}'")),
        Index("ix_power_cap_tasks_runnable", "state", postgresql_where=text(_CAP_ACTIVE)),
    )


class SmdStateOutbox(Base):
    """An on/off state SMD has not taken yet (the push failed); the sweep sends it again.
    One row per component: a newer state replaces an older one."""
    __tablename__ = "smd_state_outbox"
    xname: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=text("now()"))


class ComponentLock(Base):
    """An administrator's lock: work for the component fails at once while it stands."""
    __tablename__ = "component_locks"
    xname: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    locked_by: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("now()"))


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transition_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transitions.id", ondelete="CASCADE"), index=True)
    xname: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("now()"))
