"""One step of one task, in a worker: claim, act through redfish/, record, then defer or finish.

Steps (task.phase):
  gather  - read the power state, plan the actions (domain.operations.plan_actions)
  apply   - send the head action's Reset; the exchange row is written as 'sending' first
  confirm - read the power state until the action's target or its deadline
A step never waits: it defers the task with next_check_at and the dispatcher sends it again.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pcs import bmc_clients, events, power_status
from pcs.queue import scheduler, sequencing, task_reservations
from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes
from pcs.domain.confirmation import (Next, Resend, action_deadline, busy_retry_at,
                                     confirm_interval, next_confirm_step)
from pcs.domain.operations import (OFF_ACTIONS, TARGET_STATE, Action, Operation, PlanOutcome,
                                   escalates_to_force_off, plan_actions, reset_type_for)
from pcs.domain.tiers import tier_of
from pcs.errors import CredentialsUnavailable, DatabaseUnavailable
from pcs.runtime.logs import add_log_context, log_context
from pcs.models import BmcExchange
from pcs.redfish.client import Exchange, RedfishClient, in_motion
from pcs.redfish.tasks import TaskProgress, read_task_monitor
from pcs.sources import state_push
from pcs.sources.inventory import OUTLET_TYPE
from pcs.sources.reservations import Held, NoReservations, Refused, ReservationSource
from pcs.sources.state_push import NoStatePush, StatePush
from pcs.sources.credentials import CredentialSource

log = logging.getLogger(__name__)
exchanges = BmcExchange.__table__
# What a step knows of its task. Plain SQL: this runs for every step, and building the
# equivalent select() cost more CPU than PostgreSQL spent running it.
_LOAD_STEP = text("""
    SELECT t.xname, t.phase, t.plan, t.action, t.action_sent_at, t.deadline_at, t.description,
           t.tier, t.resends, t.moved_at, t.task_monitor, t.reservation_key,
           t.reservation_deputy_key, tr.operation,
           tr.task_deadline_minutes, tr.multi_tier, c.redfish_path, c.reset_target,
           c.reset_parameter, c.allowable_values, c.type, b.id AS bmc_id,
           b.updated_at AS bmc_updated_at, b.xname AS bmc_xname, b.address AS bmc_address,
           b.scheme AS bmc_scheme, b.username AS bmc_username,
           b.password_encrypted AS bmc_password_encrypted, b.verify_tls AS bmc_verify_tls,
           b.ca_bundle AS bmc_ca_pem
    FROM transition_tasks t
    JOIN transitions tr ON tr.id = t.transition_id
    JOIN components c ON c.id = t.component_id
    JOIN bmcs b ON b.id = c.bmc_id
    WHERE t.id = :id""")
_INSERT_EXCHANGE_SQL = """
    INSERT INTO bmc_exchanges (task_id, bmc_id, purpose, state, method, path, request_body,
                               status_code, response_body, error_class, error, latency_ms,
                               sent_at)
    VALUES (:task_id, :bmc_id, :purpose, :state, :method, :path, CAST(:request_body AS jsonb),
            :status_code, :response_body, :error_class, :error, :latency_ms, :sent_at)"""
_INSERT_EXCHANGES = text(_INSERT_EXCHANGE_SQL)
_INSERT_INTENT = text(_INSERT_EXCHANGE_SQL + " RETURNING id")
_COMPLETE_EXCHANGE = text("""
    UPDATE bmc_exchanges SET state = 'done', method = :method, path = :path,
        request_body = CAST(:request_body AS jsonb), status_code = :status_code,
        response_body = :response_body, error_class = :error_class, error = :error,
        latency_ms = :latency_ms
    WHERE id = :id""")
# A batch hands its remaining tasks on after a step whose BMC took this long to answer, or
# did not answer (Executor.run_steps).
SLOW_BMC_MS = 500.0
# Only these are ever sent again when the state did not move (DESIGN.md, re-sends).
RESENDABLE = (Action.ON, Action.FORCE_OFF)


@dataclass
class StepContext:
    """What one step knows: the claimed task, its transition, component and BMC client."""
    claim: scheduler.Claim
    xname: str
    operation: Operation
    deadline_minutes: int
    phase: str
    plan: list[Action]
    action: Action | None
    action_sent_at: datetime | None
    deadline_at: datetime | None
    description: str
    system_path: str
    reset_target: str | None
    reset_parameter: str
    allowable: list[str]
    bmc_id: int
    # Set once the claim is committed: credentials may take a read from Vault.
    client: RedfishClient | None = None
    component_type: str = "Node"
    tier: int | None = None
    resends: int = 0
    moved_at: datetime | None = None
    task_monitor: str | None = None
    multi_tier: bool = False
    reservation_key: str | None = None          # an SMD reservation of its own, released at end
    reservation_deputy_key: str | None = None   # checked before each power tier
    sent: tuple | None = None    # (exchange id, Exchange, ResetType) of an accepted action
    ended: bool = False
    slow_bmc: bool = False       # an exchange took SLOW_BMC_MS or more, or got no answer
    unrecorded: list = field(default_factory=list)   # (Exchange, purpose) not yet stored


@dataclass(frozen=True)
class StepResult:
    ended: uuid.UUID | None      # the task's transition, when the task ended
    slow_bmc: bool = False


class Executor:
    """Runs task steps for one worker process."""

    def __init__(self, settings: Settings, db: Database, credentials: CredentialSource,
                 publisher: Publisher, reservations: ReservationSource | None = None,
                 push: StatePush | None = None):
        self.settings = settings
        self.db = db
        self.credentials = credentials
        self.publisher = publisher
        self.reservations = reservations or NoReservations()
        self.push = push or NoStatePush()
        # xname -> reservation key of the steps running in this process, renewed by its
        # renewal loop (only this process knows they are still alive).
        self.running_reservations: dict[str, str] = {}

    def run_steps(self, task_ids: list[int]) -> None:
        """Run the step of each task in turn, then check once whether their transitions are
        complete. A task that cannot be run now (its step failed on the database) is left to
        the reaper, and the others still run.

        A healthy BMC answers a step in milliseconds. After a step whose BMC was slow or silent
        (SLOW_BMC_MS), the remaining tasks go back to the broker one per message, so that idle
        worker threads take them instead of waiting behind this one. (Not by the batch's wall
        time: on a busy host that measures the CPU queue, not the BMCs.)"""
        refusals = self._reserve(task_ids)
        if refusals is None:
            return   # still dispatched: the reaper sends them again
        ended: set = set()
        for index, task_id in enumerate(task_ids):
            try:
                with log_context(task_id=task_id):
                    step = self._run_step_reconnecting(task_id, refusals.get(task_id))
            except Exception as exc:
                log.warning("step of task %s not run, the reaper will send it again: %s",
                            task_id, exc)
                continue
            if step.ended is not None:
                ended.add(step.ended)
            if step.slow_bmc and index + 1 < len(task_ids):
                self._hand_on(task_ids[index + 1:])
                break
        if ended:
            # After the finishing commits, so that the last task of a transition to end always
            # sees every other one ended.
            with self.db.transaction() as session:
                for transition_id in sorted(ended):
                    scheduler.complete_if_done(session, transition_id)

    def _reserve(self, task_ids: list[int]) -> dict[int, Refused] | None:
        """Take SMD reservations for the batch's tasks that hold none (one call for the batch)
        and store them; returns the tasks that may not act, with why. None when the database
        failed: no task of the batch may act without its reservation stored."""
        if not self.reservations.enabled:
            return {}
        try:
            with self.db.transaction() as session:
                wanted = task_reservations.wanted(session, task_ids)
            if not wanted:
                return {}
            results = self.reservations.acquire(wanted)
            held = {i: r for i, r in results.items() if isinstance(r, Held)}
            with self.db.transaction() as session:
                stored = task_reservations.store(session, held, scheduler.utcnow(),
                                                 self.settings.minute_s)
        except (DatabaseUnavailable, OperationalError) as exc:
            log.warning("reserving %d tasks stopped on a database error: %s", len(task_ids), exc)
            return None
        # Reserved for tasks another worker took meanwhile: not ours to keep.
        self.reservations.release({w.xname: held[w.task_id].reservation_key for w in wanted
                                   if w.task_id in held and w.task_id not in stored
                                   and held[w.task_id].reservation_key})
        return {i: r for i, r in results.items() if isinstance(r, Refused)}

    def _hand_on(self, task_ids: list[int]) -> None:
        log.info("handing on %d tasks of a slow batch (slow or silent BMCs)", len(task_ids))
        try:
            with self.db.transaction() as session:
                waiting = scheduler.still_dispatched(session, task_ids)
            self.publisher.publish(waiting, batch=1)
        except Exception as exc:   # they stay dispatched: the reaper sends them again
            log.warning("handing on %d tasks failed: %s", len(task_ids), exc)

    def _run_step_reconnecting(self, task_id: int, refused: Refused | None = None) -> StepResult:
        # Workers do not ping each pooled connection before use (a round trip per transaction):
        # the first use after a database restart fails, and the pool reconnects. The claim
        # changed nothing, so it is tried once more at once.
        try:
            return self.run_step(task_id, refused)
        except DatabaseUnavailable as exc:
            log.info("claiming task %s again after a lost database connection: %s", task_id, exc)
            return self.run_step(task_id, refused)

    def run_step(self, task_id: int, refused: Refused | None = None) -> StepResult:
        """Claim the task and run its steps until it must wait or ends. Stale messages: no-op.
        `refused`: the reservation source would not let it act; it ends so at once."""
        with self.db.transaction() as session:
            claim = scheduler.claim(session, task_id, self.settings.step_lease_s)
            if claim is None:
                return StepResult(None)
            add_log_context(transition_id=claim.transition_id, xname=claim.xname)
            if refused is not None:
                scheduler.finish(session, claim, "failed", refused.description, refused.error)
                return StepResult(claim.transition_id)
            loaded = self._load(session, claim)
        if loaded is None:
            return StepResult(claim.transition_id)   # it ended: its component is gone
        ctx, bmc = loaded
        try:
            ctx.client = self.client_for(bmc)
        except CredentialsUnavailable as exc:
            # Before any exchange: the BMC was not asked, so nothing can have been applied.
            with self.db.transaction() as session:
                self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE, str(exc))
            return StepResult(claim.transition_id if ctx.ended else None)
        if ctx.reservation_key:
            self.running_reservations[ctx.xname] = ctx.reservation_key
        try:
            self._advance(ctx)
        except (DatabaseUnavailable, OperationalError) as exc:
            # Lost connection, restart, deadlock: nothing is wrong with the task. What was
            # committed stands; the step runs again from there, as after a worker's death (an
            # action that may have been sent is never sent blindly).
            log.warning("step of task %s (%s) stopped on a database error, running it again "
                        "shortly: %s", task_id, ctx.xname, exc)
            self._release(ctx)
        except Exception:
            log.exception("step of task %s (%s) failed unexpectedly", task_id, ctx.xname)
            with self.db.transaction() as session:
                self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE,
                          "Internal error while running the step (see the service log)")
        finally:
            self.running_reservations.pop(ctx.xname, None)
        return StepResult(claim.transition_id if ctx.ended else None, ctx.slow_bmc)

    def _release(self, ctx: StepContext) -> None:
        """Give the task back to the dispatcher a moment from now; if the database is still
        away, the reaper takes it back when its lease ends."""
        retry_at = scheduler.utcnow() + timedelta(seconds=self.settings.confirm_interval_s)
        try:
            with self.db.transaction() as session:
                scheduler.release(session, ctx.claim, retry_at)
        except (DatabaseUnavailable, OperationalError) as exc:
            log.warning("task %s (%s) waits for the reaper: %s", ctx.claim.task_id, ctx.xname,
                        exc)

    def _advance(self, ctx: StepContext) -> None:
        # Each phase either ends the task, defers it, or moves on to the next phase at once.
        while True:
            if ctx.phase == "gather":
                if not self._gather(ctx):
                    return
            elif ctx.phase == "apply":
                if not self._apply(ctx):
                    return
            elif ctx.phase == "confirm":
                if not self._confirm(ctx):
                    return
            else:
                raise ValueError(f"unknown phase {ctx.phase}")

    # -- phases -------------------------------------------------------------------------------
    def _gather(self, ctx: StepContext) -> bool:
        state, exchange = ctx.client.get_power_state(ctx.system_path)
        ctx.unrecorded.append((exchange, "gather"))
        if state is None and exchange.error_class == "connection" and ctx.multi_tier:
            if self._wait_for_controller(ctx):
                return False
        outcome, actions = plan_actions(ctx.operation, state, ctx.allowable) if state else (
            None, [])
        if outcome is PlanOutcome.RUN and ctx.reset_target and all(
                reset_type_for(a, ctx.allowable) for a in actions):
            # Stored with the intent of the first action, in the next transaction.
            ctx.plan, ctx.phase = actions, "apply"
            ctx.action, ctx.action_sent_at, ctx.deadline_at = None, None, None
            ctx.tier = tier_of(actions[0], ctx.component_type)
            return True
        with self.db.transaction() as session:
            self._write_exchanges(session, ctx)
            if state is None:
                return self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE,
                                 exchange.error)
            if outcome is PlanOutcome.ALREADY:
                power_status.record_confirmed(session, ctx.xname, state, scheduler.utcnow())
                return self._end(session, ctx, "succeeded", outcomes.ALREADY_IN_STATE)
            if outcome is PlanOutcome.WRONG_STATE:
                return self._end(session, ctx, "failed", outcomes.must_be_on(ctx.operation.value),
                                 outcomes.WRONG_POWER_STATE)
            return self._end(session, ctx, "failed", outcomes.FAILED_TO_CONSTRUCT,
                             outcomes.power_action_not_supported(ctx.xname))

    def _apply(self, ctx: StepContext) -> bool:
        action = ctx.plan[0]
        if ctx.action is action and ctx.action_sent_at is not None:
            # An earlier attempt recorded the intent and its worker died: the action may or may
            # not have reached the BMC. Never send blindly; read the state first.
            if not self._unsent_after_crash(ctx, action):
                ctx.phase = "confirm"
                ctx.deadline_at = self._deadline_for(ctx, action, ctx.action_sent_at)
                with self.db.transaction() as session:
                    self._write_exchanges(session, ctx)
                    return self._save(session, ctx)
        reset_type = reset_type_for(action, ctx.allowable)
        sent_at = scheduler.utcnow()
        with self.db.transaction() as session:
            if ctx.multi_tier and not self._tier_open(session, ctx, action):
                return False
            ctx.action, ctx.action_sent_at = action, sent_at
            ctx.description = outcomes.applying(action.value)
            self._write_exchanges(session, ctx)
            if not self._save(session, ctx):
                return False
            exchange_id = self._record_intent(session, ctx, reset_type, sent_at)
        exchange = ctx.client.reset(ctx.reset_target, reset_type, ctx.reset_parameter)
        last = len(ctx.plan) == 1
        if exchange.ok and exchange.status_code != 202 and not (last and ctx.deadline_minutes == 0):
            # Accepted: the first confirmation read goes at once, and its transaction also
            # completes this exchange (a commit fewer per action; the intent row stored above
            # already tells recovery that the action may have been sent).
            ctx.sent = (exchange_id, exchange, reset_type)
            self._start_confirming(ctx, action, sent_at, None)
            return True
        with self.db.transaction() as session:
            self._complete_exchange(session, ctx, exchange_id, exchange)
            if not exchange.ok:
                if self._retry_when_busy(session, ctx, exchange):
                    return False
                if not exchange.maybe_delivered:
                    return self._end(session, ctx, "failed",
                                     outcomes.failed_to_apply(action.value), exchange.error)
                if action is Action.GRACEFUL_RESTART:
                    return self._end(session, ctx, "failed",
                                     outcomes.failed_to_apply(action.value),
                                     outcomes.restart_unknown(exchange.error))
                if ctx.deadline_minutes == 0:
                    return self._end(session, ctx, "failed",
                                     outcomes.failed_to_apply(action.value), exchange.error)
                # It may have arrived: never send blindly; the state read decides (and the
                # re-send rule, for On and ForceOff).
            if exchange.ok:
                self._action_sent(session, ctx, reset_type)
            if last and ctx.deadline_minutes == 0:
                return self._end(session, ctx, "succeeded",
                                     outcomes.applied_not_confirming(action.value))
            self._start_confirming(ctx, action, sent_at,
                                   exchange.location if exchange.status_code == 202 else None)
            return self._save(session, ctx)

    def _start_confirming(self, ctx: StepContext, action: Action, sent_at: datetime,
                          task_monitor: str | None) -> None:
        # The first read goes at once (a fast BMC is confirmed without another message);
        # later ones wait PCS_CONFIRM_INTERVAL_S, without holding this worker.
        ctx.phase, ctx.description = "confirm", outcomes.confirming(action.value)
        ctx.deadline_at = self._deadline_for(ctx, action, sent_at)
        ctx.task_monitor, ctx.moved_at = task_monitor, None

    def _confirm(self, ctx: StepContext) -> bool:
        action = ctx.action
        if ctx.task_monitor and not self._follow_task(ctx):
            return False
        observed, exchange = ctx.client.get_power_state(ctx.system_path)
        now = scheduler.utcnow()
        moving = in_motion(exchange)
        if moving:
            ctx.moved_at = now
        resend = None
        if action in RESENDABLE and ctx.action_sent_at is not None:
            moved_since_sent = ctx.moved_at is not None and ctx.moved_at >= ctx.action_sent_at
            resend = Resend(ctx.action_sent_at, moved_since_sent, ctx.resends,
                            self.settings.resend_limit, self.settings.resend_after_s)
        elapsed_s = ((now - ctx.action_sent_at).total_seconds() if ctx.action_sent_at
                     else self.settings.confirm_interval_s)
        step = next_confirm_step(
            observed, TARGET_STATE[action], now, ctx.deadline_at,
            confirm_interval(elapsed_s, self.settings.confirm_interval_s),
            escalates_to_force_off(ctx.operation, action, ctx.allowable), moving, resend)
        ctx.unrecorded.append((exchange, "confirm"))
        if step.next is Next.RESEND:
            return self._resend(ctx)   # True: go on confirming in this step
        # SMD hears of the new state before the task succeeds (a client may read SMD as soon
        # as the transition completes); what it does not take waits for the sweep.
        unpushed = (self.push.push({ctx.xname: observed})
                    if step.next is Next.CONFIRMED and self.push.enabled else {})
        with self.db.transaction() as session:
            state_push.keep_for_later(session, unpushed)
            self._write_exchanges(session, ctx)
            if step.next is Next.ASK_AGAIN:
                ctx.description = outcomes.confirming(action.value)
                self._defer(session, ctx, step.check_at)
                return False
            if step.next is Next.TIMED_OUT:
                if action in RESENDABLE and ctx.moved_at is not None and observed is not None:
                    error = (f"{outcomes.timeout_waiting(action.value)} " + outcomes.fell_back(
                        self._reset_type(ctx), observed, ctx.resends + 1))
                else:
                    error = self._unconfirmed_error(session, ctx, observed, exchange)
                return self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE, error)
            if step.next is Next.FELL_BACK:
                return self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE,
                                 outcomes.fell_back(self._reset_type(ctx), observed,
                                                    ctx.resends + 1))
            if step.next is Next.ESCALATE:
                ctx.plan = [Action.FORCE_OFF] + ctx.plan[1:]
            else:
                ctx.plan = ctx.plan[1:]
                power_status.record_confirmed(session, ctx.xname, observed, now)
                events.task(session, ctx.claim.transition_id, ctx.xname, events.CONFIRMED,
                            "in-progress", outcomes.confirmed(action.value),
                            action=reset_type_for(action, ctx.allowable) or action.value)
                if not ctx.plan:
                    return self._end(session, ctx, "succeeded",
                                         outcomes.confirmed(action.value))
            ctx.phase, ctx.action_sent_at, ctx.deadline_at = "apply", None, None
            ctx.tier = tier_of(ctx.plan[0], ctx.component_type)
            return self._save(session, ctx)

    def _follow_task(self, ctx: StepContext) -> bool:
        """Read the task monitor of an action the BMC accepted with 202. True once the task
        ended well (the power state decides next); otherwise the task waits or fails."""
        exchange = ctx.client.get(ctx.task_monitor)
        ctx.unrecorded.append((exchange, "monitor"))
        reading = read_task_monitor(exchange.status_code, exchange.json)
        if reading.progress is TaskProgress.DONE:
            ctx.task_monitor = None
            return True
        with self.db.transaction() as session:
            self._write_exchanges(session, ctx)
            if reading.progress is TaskProgress.FAILED:
                return self._end(session, ctx, "failed", outcomes.failed_to_apply(
                    ctx.action.value), reading.message)
            now = scheduler.utcnow()
            if ctx.deadline_at is not None and now >= ctx.deadline_at:
                answer = exchange.error or f"{exchange.status_code}, still running"
                return self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE,
                                 f"{outcomes.timeout_waiting(ctx.action.value)} The BMC's "
                                 f"task monitor {ctx.task_monitor} last answered: {answer}")
            self._defer(session, ctx, now + timedelta(seconds=self.settings.confirm_interval_s))
            return False

    def _resend(self, ctx: StepContext) -> bool:
        """Send an On or ForceOff again that left the power state unmoved (bounded by
        PCS_RESEND_LIMIT); the intent is stored first, as for the first send."""
        reset_type, sent_at = self._reset_type(ctx), scheduler.utcnow()
        with self.db.transaction() as session:
            ctx.resends, ctx.action_sent_at = ctx.resends + 1, sent_at
            self._write_exchanges(session, ctx)
            if not self._save(session, ctx):
                return False
            exchange_id = self._record_intent(session, ctx, reset_type, sent_at, "resend")
        exchange = ctx.client.reset(ctx.reset_target, reset_type, ctx.reset_parameter)
        with self.db.transaction() as session:
            self._complete_exchange(session, ctx, exchange_id, exchange)
            if not (exchange.ok or exchange.maybe_delivered
                    or exchange.status_code in (409, 503)):
                return self._end(session, ctx, "failed",
                                 outcomes.failed_to_apply(ctx.action.value), exchange.error)
            # A busy or silent BMC: the reads decide, as after the first send (the first at once).
            ctx.task_monitor = exchange.location if exchange.status_code == 202 else None
            return self._save(session, ctx)

    def _unconfirmed_error(self, session: Session, ctx: StepContext, observed: str | None,
                           read: Exchange) -> str:
        """Why the target was not seen by the deadline, quoting the BMC's last answer to the
        action (one query, only when a task fails this way)."""
        last = session.execute(
            select(exchanges.c.status_code, exchanges.c.error)
            .where(exchanges.c.task_id == ctx.claim.task_id,
                   exchanges.c.purpose.in_(("apply", "resend")))
            .order_by(exchanges.c.id.desc()).limit(1)).first()
        if last is None:
            answer = "none recorded"
        elif last.error:
            answer = last.error
        else:
            answer = f"{last.status_code} (accepted)"
        return outcomes.unconfirmed(ctx.action.value, self._reset_type(ctx), observed,
                                    ctx.resends + 1, answer, read.error)

    def _reset_type(self, ctx: StepContext) -> str:
        return reset_type_for(ctx.action, ctx.allowable) or ctx.action.value

    def _retry_when_busy(self, session: Session, ctx: StepContext, exchange: Exchange) -> bool:
        """A BMC that answered 409 or 503 did not apply the action: send it again later, within
        the action's deadline counted from the first refusal. True when the task now waits."""
        now = scheduler.utcnow()
        waited_s = self._start_waiting(ctx, now)
        retry_at = busy_retry_at(exchange.status_code, exchange.retry_after_s, now,
                                 ctx.deadline_at, 2 * self.settings.confirm_interval_s, waited_s)
        if retry_at is None:
            return False
        ctx.action_sent_at = None   # refused, so not sent: the next step sends it again
        self._defer(session, ctx, retry_at)
        return True

    def _start_waiting(self, ctx: StepContext, now: datetime) -> float:
        """Bound a wait before an action is sent (busy BMC, booting controller) by the task
        deadline from the first wait; with no deadline (-1) or none to confirm (0), 5 minutes.
        Returns the seconds waited so far."""
        span = timedelta(seconds=(ctx.deadline_minutes if ctx.deadline_minutes > 0 else 5)
                         * self.settings.minute_s)
        if ctx.deadline_at is None:
            ctx.deadline_at = now + span
        return max(0.0, (span - (ctx.deadline_at - now)).total_seconds())

    def _unsent_after_crash(self, ctx: StepContext, action: Action) -> bool:
        """True when the state shows that an On or ForceOff whose sender died never arrived
        (still plainly in the old state, not moving): then it is sent now. Other actions are
        not repeated: a graceful shutdown may just be slow, a restart leaves no trace."""
        if action not in (Action.ON, Action.FORCE_OFF):
            return False
        state, exchange = ctx.client.get_power_state(ctx.system_path)
        ctx.unrecorded.append((exchange, "confirm"))
        return state is not None and state != TARGET_STATE[action] and not in_motion(exchange)

    # -- sequencing -----------------------------------------------------------------------------
    def _tier_open(self, session: Session, ctx: StepContext, action: Action) -> bool:
        """Whether the action may go now. If not, the task waits (deferred) or, when a child it
        depends on failed, fails."""
        if sequencing.earlier_tier_pending(session, ctx.claim.transition_id, ctx.claim.task_id,
                                           ctx.tier):
            self._write_exchanges(session, ctx)
            self._defer(session, ctx, scheduler.utcnow()
                        + timedelta(seconds=self.settings.confirm_interval_s))
            return False
        if action in OFF_ACTIONS and ctx.component_type != "Node":
            child = sequencing.failed_descendant(session, ctx.claim.transition_id, ctx.xname)
            if child is None and ctx.component_type == OUTLET_TYPE:
                child = sequencing.failed_fed_node(session, ctx.claim.transition_id, ctx.xname)
            if child:
                self._end(session, ctx, "failed", *outcomes.dependency_failure(
                    action.value, child.xname, child.description, child.error))
                return False
        if ctx.reservation_deputy_key:
            # Before each power tier, the key the task acts under must still hold (a failed
            # check call is ignored, as upstream).
            valid = self.reservations.valid({ctx.xname: ctx.reservation_deputy_key})
            if valid is not None and ctx.xname not in valid:
                self._end(session, ctx, "failed", outcomes.FAILED_TO_ACHIEVE,
                          outcomes.RESERVATION_EXPIRED)
                return False
        return True

    def _wait_for_controller(self, ctx: StepContext) -> bool:
        """A controller that does not answer while the transition powers its slot or chassis on
        is waited for (bounded by the task deadline). True when the task now waits."""
        now = scheduler.utcnow()
        with self.db.transaction() as session:
            if not sequencing.ancestor_in_transition(session, ctx.claim.transition_id,
                                                     ctx.xname):
                return False
            self._start_waiting(ctx, now)
            if now >= ctx.deadline_at:
                return False   # give up waiting: the read's failure ends the task
            ctx.description = outcomes.WAITING_FOR_CONTROLLER
            self._write_exchanges(session, ctx)
            self._defer(session, ctx, now + timedelta(seconds=self.settings.confirm_interval_s))
            return True

    # -- helpers ------------------------------------------------------------------------------
    def _deadline_for(self, ctx: StepContext, action: Action, sent_at: datetime):
        if action is Action.FORCE_OFF and ctx.operation is not Operation.FORCE_OFF:
            # ForceOff sent by Off's escalation is confirmed within a fixed window.
            return sent_at + timedelta(seconds=self.settings.forceoff_confirm_s)
        return action_deadline(sent_at, ctx.deadline_minutes, self.settings.minute_s)

    def _fields(self, ctx: StepContext) -> dict:
        return {"phase": ctx.phase, "plan": [a.value for a in ctx.plan],
                "action": ctx.action.value if ctx.action else None,
                "action_sent_at": ctx.action_sent_at, "deadline_at": ctx.deadline_at,
                "description": ctx.description, "tier": ctx.tier, "resends": ctx.resends,
                "moved_at": ctx.moved_at, "task_monitor": ctx.task_monitor}

    def _save(self, session: Session, ctx: StepContext) -> bool:
        """Store progress; False when the task is no longer ours (aborted or reaped)."""
        if scheduler.progress(session, ctx.claim, **self._fields(ctx)):
            return True
        return self._end_if_aborting(session, ctx)

    def _defer(self, session: Session, ctx: StepContext, check_at: datetime) -> None:
        if not scheduler.defer(session, ctx.claim, check_at, **self._fields(ctx)):
            self._end_if_aborting(session, ctx)

    def _end_if_aborting(self, session: Session, ctx: StepContext) -> bool:
        # The transition was aborted while this step ran: what was sent is not reversed.
        if scheduler.abort_signaled(session, ctx.claim.transition_id):
            self._end(session, ctx, "failed", outcomes.aborted(ctx.description),
                      outcomes.TRANSITION_ABORTED)
        return False

    def _end(self, session: Session, ctx: StepContext, state: str, description: str,
             error: str | None = "") -> bool:
        """End the task; returns False so that a phase can `return self._end(...)` and stop."""
        self._write_exchanges(session, ctx)   # the BMC's answers are stored before the outcome
        if ctx.reservation_key:
            # Released before the outcome commits, so that the component's next queued task
            # (promoted by this commit) can reserve it.
            self.reservations.release({ctx.xname: ctx.reservation_key})
            task_reservations.forget(session, ctx.claim.task_id)
            ctx.reservation_key = None
        if scheduler.finish(session, ctx.claim, state, description, error or ""):
            ctx.ended = True   # finish() recorded the task's last event
        return False

    def _write_exchanges(self, session: Session, ctx: StepContext) -> None:
        """Store the exchanges made since the last write (always before any outcome)."""
        if ctx.sent is not None:
            exchange_id, exchange, reset_type = ctx.sent
            ctx.sent = None
            self._complete_exchange(session, ctx, exchange_id, exchange)
            self._action_sent(session, ctx, reset_type)
        if ctx.unrecorded:
            ctx.slow_bmc = ctx.slow_bmc or any(_slow(exchange) for exchange, _ in ctx.unrecorded)
            session.execute(_INSERT_EXCHANGES, [
                dict(_exchange_columns(attempt), task_id=ctx.claim.task_id, bmc_id=ctx.bmc_id,
                     purpose=purpose, state="done")
                for exchange, purpose in ctx.unrecorded
                for attempt in (*exchange.earlier, exchange)])
            ctx.unrecorded.clear()

    def _action_sent(self, session: Session, ctx: StepContext, reset_type: str) -> None:
        events.task(session, ctx.claim.transition_id, ctx.xname, events.ACTION_SENT,
                    "in-progress", outcomes.applying(ctx.action.value), action=reset_type)

    def _record_intent(self, session: Session, ctx: StepContext, reset_type: str,
                       sent_at: datetime, purpose: str = "apply") -> int:
        return session.scalar(_INSERT_INTENT, dict(
            task_id=ctx.claim.task_id, bmc_id=ctx.bmc_id, purpose=purpose, state="sending",
            method="POST", path=ctx.reset_target,
            request_body=json.dumps({ctx.reset_parameter: reset_type}), status_code=None,
            response_body=None, error_class=None, error=None, latency_ms=None, sent_at=sent_at))

    def _complete_exchange(self, session: Session, ctx: StepContext, exchange_id: int,
                           exchange: Exchange) -> None:
        ctx.slow_bmc = ctx.slow_bmc or _slow(exchange)
        session.execute(_COMPLETE_EXCHANGE, dict(_exchange_columns(exchange), id=exchange_id))

    def _load(self, session: Session, claim: scheduler.Claim) -> tuple[StepContext, dict] | None:
        """The task's context (without its client) and its BMC's columns; None when the task
        ended because its component is gone."""
        row = session.execute(_LOAD_STEP, {"id": claim.task_id}).first()
        if row is None:
            # The component vanished from the inventory after the task was queued.
            scheduler.finish(session, claim, "failed", outcomes.FAILED_TO_ACHIEVE,
                             outcomes.MISSING_XNAME)
            return None
        ctx = StepContext(
            claim=claim, xname=row.xname, operation=Operation(row.operation),
            deadline_minutes=row.task_deadline_minutes, phase=row.phase,
            plan=[Action(a) for a in row.plan], action=Action(row.action) if row.action else None,
            action_sent_at=row.action_sent_at, deadline_at=row.deadline_at,
            description=row.description or outcomes.GATHERING_DATA,
            system_path=row.redfish_path, reset_target=row.reset_target,
            reset_parameter=row.reset_parameter,
            allowable=list(row.allowable_values or []), bmc_id=row.bmc_id,
            component_type=row.type, tier=row.tier, multi_tier=row.multi_tier,
            resends=row.resends, moved_at=row.moved_at, task_monitor=row.task_monitor,
            reservation_key=row.reservation_key,
            reservation_deputy_key=row.reservation_deputy_key)
        return ctx, {k[4:]: v for k, v in row._mapping.items() if k.startswith("bmc_")}

    def client_for(self, bmc: dict) -> RedfishClient:
        """The process's pooled client of a BMC (power-cap steps and the sweep share it).
        Raises CredentialsUnavailable from the credential source."""
        return bmc_clients.client_for(self.settings, self.credentials, bmc)


def _slow(exchange: Exchange) -> bool:
    """Whether the BMC took SLOW_BMC_MS or more to answer (retried reads count whole), or gave
    no answer at all."""
    attempts = (*exchange.earlier, exchange)
    return (sum(a.latency_ms or 0.0 for a in attempts) >= SLOW_BMC_MS
            or any(a.error_class in ("timeout", "connection") for a in attempts))


def _exchange_columns(exchange: Exchange) -> dict:
    body = exchange.request_body
    return {"method": exchange.method, "path": exchange.path,
            "request_body": json.dumps(body) if body is not None else None,
            "status_code": exchange.status_code,
            "response_body": exchange.response_body, "error_class": exchange.error_class,
            "error": exchange.error, "latency_ms": exchange.latency_ms,
            "sent_at": exchange.sent_at}
