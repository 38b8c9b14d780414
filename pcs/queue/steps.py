"""The step engine: a worker runs the steps of a batch of tasks in lockstep.

A task's step is a generator of its phases (task.phase):
  gather  - read the power state, plan the actions (domain.operations.plan_actions)
  apply   - store the intent of the head action, then send its Reset
  confirm - read the power state until the action's target or its deadline
Each phase returns a value: Continue (the next phase, now), Wait(at) or End(state, ...); one
place, _step, applies it. A phase never does I/O itself: it yields what it needs (a Call to
the BMC, a Gate or Check in the database, a STORE of what it has to store) and the batch's
runner (_Lockstep) does the I/O of all its tasks together: the calls at once (a slow BMC is not
waited for by the others for more than SLOW_BMC_S), the gates in one statement and the checks
in the same transaction, the stores set-based in one transaction. An instant BMC's task takes
three transactions in all, shared with its batch: the claim, the intent, the outcome.

The invariants hold per task: the intent is committed before its Reset goes out, an action
that may have arrived is never sent blindly again, every exchange is stored before or with
the outcome, every write is fenced by the claim's attempt.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pcs import bmc_clients, events, power_status
from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes
from pcs.domain.confirmation import (Next, Resend, action_deadline, next_confirm_step,
                                     until_next_read)
from pcs.domain.operations import (OFF_ACTIONS, TARGET_STATE, Action, Operation, PlanOutcome,
                                   escalates_to_force_off, plan_actions, reset_type_for)
from pcs.domain.states import TaskState
from pcs.domain.steps import Continue, End, ResetAnswer, Wait, after_reset
from pcs.domain.tiers import tier_of
from pcs.errors import CredentialsUnavailable, DatabaseUnavailable
from pcs.models import BmcExchange
from pcs.queue import exchanges, scheduler, sequencing, task_reservations
from pcs.queue.exchanges import Intent
from pcs.redfish.client import Exchange, RedfishClient, in_motion
from pcs.redfish.tasks import TaskProgress, read_task_monitor
from pcs.runtime.logs import log_context
from pcs.sources import state_push
from pcs.sources.credentials import CredentialSource
from pcs.sources.inventory import OUTLET_TYPE
from pcs.sources.reservations import Held, NoReservations, Refused, ReservationSource
from pcs.sources.state_push import NoStatePush, StatePush

log = logging.getLogger(__name__)
exchange_rows = BmcExchange.__table__
# The batch's other tasks go on (store, send) while a BMC this slow or silent is still
# answering; it joins the next round when it answers.
SLOW_BMC_S = 0.5
# A task waiting for an earlier tier checks again after this many confirm intervals, unless
# the tier empties first.
TIER_RECHECK_INTERVALS = 5
# Only these are ever sent again when the state did not move (DESIGN.md, re-sends).
RESENDABLE = (Action.ON, Action.FORCE_OFF)


# -- what a phase yields to the runner ----------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """An exchange with the task's BMC (or SMD); the runner sends back what `run` returns."""
    run: Callable[[], Any]


@dataclass(frozen=True)
class Check:
    """A read in the database (dependencies); the runner sends back what `read` returns."""
    read: Callable[[Session], Any]


@dataclass(frozen=True)
class Gate:
    """The tier gate of an action in `tier`: the runner sends back True while another
    unfinished task of the transition has an action in an earlier tier. A round's gates are
    read in one statement."""
    tier: int


class _Store:
    """Store what the task has gathered; the runner sends back whether the claim still holds
    the task (False: aborted or taken back, nothing more to do)."""


STORE = _Store()


class _Lost:
    """A phase's outcome when the task is no longer this claim's."""


LOST = _Lost()
Request = Call | Check | Gate | _Store
Steps = Generator[Request, Any, Any]


@dataclass
class StepContext:
    """What one step knows of its task, and what it has yet to store."""
    claim: scheduler.Claim
    xname: str
    operation: Operation | None = None
    deadline_minutes: int = 0
    phase: str = "gather"
    plan: list[Action] = field(default_factory=list)
    action: Action | None = None
    action_sent_at: datetime | None = None
    deadline_at: datetime | None = None
    description: str = ""
    system_path: str = ""
    reset_target: str | None = None
    reset_parameter: str = "ResetType"
    allowable: list[str] = field(default_factory=list)
    bmc_id: int | None = None
    client: RedfishClient | None = None
    component_type: str = "Node"
    tier: int | None = None
    stored_tier: int | None = None              # the tier its row holds (None: ended)
    resends: int = 0
    moved_at: datetime | None = None
    task_monitor: str | None = None
    multi_tier: bool = False
    reservation_key: str | None = None          # an SMD reservation of its own, released at end
    reservation_deputy_key: str | None = None   # checked before each power tier
    # To store with the next STORE:
    unrecorded: list[tuple[Exchange, str]] = field(default_factory=list)   # (exchange, purpose)
    intent: Intent | None = None                # a Reset about to go out
    intent_id: int | None = None                # its exchange row, once stored
    completion: tuple | None = None             # (intent's row id, answer, action-sent event)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (event, description, action)
    confirmed: str | None = None                # the power state a confirmation saw
    unpushed: dict[str, str] = field(default_factory=dict)   # states SMD did not take
    outcome: Wait | End | None = None           # what the last STORE applies
    ended: bool = False


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
        self._calls: ThreadPoolExecutor | None = None
        self._calls_lock = threading.Lock()

    @property
    def calls(self) -> ThreadPoolExecutor:
        """The process's threads for BMC calls, shared by its batches (made on first use: a
        worker process is forked from the one that built the executor)."""
        with self._calls_lock:
            if self._calls is None:
                self._calls = ThreadPoolExecutor(self.settings.step_call_threads,
                                                 thread_name_prefix="pcs-bmc")
            return self._calls

    def run_steps(self, task_ids: list[int]) -> None:
        """Claim the tasks of a message and run their steps in lockstep until each must wait
        or ends; then check once whether their transitions are complete. Stale or duplicate
        IDs do nothing. On a database error, the batch's unfinished tasks are given back."""
        refusals = self._reserve(task_ids)
        if refusals is None:
            return   # still dispatched: the reaper sends them again
        try:
            contexts = self._claim_reconnecting(task_ids, refusals)
        except (DatabaseUnavailable, OperationalError) as exc:
            log.warning("claiming %d tasks stopped on a database error, the reaper will send "
                        "them again: %s", len(task_ids), exc)
            return
        if not contexts:
            return
        for ctx in contexts:
            if ctx.reservation_key:
                self.running_reservations[ctx.xname] = ctx.reservation_key
        try:
            _Lockstep(self, contexts).run()
        except (DatabaseUnavailable, OperationalError) as exc:
            # Lost connection, restart, deadlock: nothing is wrong with the tasks. What was
            # committed stands; each step runs again from there, as after a worker's death
            # (an action that may have been sent is never sent blindly).
            log.warning("steps of %d tasks stopped on a database error, running them again "
                        "shortly: %s", len(contexts), exc)
            self._release([ctx for ctx in contexts if not ctx.ended])
        finally:
            for ctx in contexts:
                self.running_reservations.pop(ctx.xname, None)
        ended = sorted({ctx.claim.transition_id for ctx in contexts if ctx.ended})
        if ended:
            # After the finishing commits, so that the last task of a transition to end always
            # sees every other one ended.
            with self.db.transaction() as session:
                for transition_id in ended:
                    scheduler.complete_if_done(session, transition_id)

    # -- the claim ----------------------------------------------------------------------------
    def _claim_reconnecting(self, task_ids: list[int],
                            refusals: dict[int, Refused]) -> list[StepContext]:
        # Workers do not ping each pooled connection before use (a round trip per transaction):
        # the first use after a database restart fails, and the pool reconnects. The claim
        # changed nothing, so it is tried once more at once.
        try:
            return self._claim(task_ids, refusals)
        except DatabaseUnavailable as exc:
            log.info("claiming %d tasks again after a lost database connection: %s",
                     len(task_ids), exc)
            return self._claim(task_ids, refusals)

    def _claim(self, task_ids: list[int], refusals: dict[int, Refused]) -> list[StepContext]:
        """One transaction claims and loads the batch; then each task gets its BMC's client.
        A task that cannot act (refused a reservation, its component gone, no credentials)
        starts with its end decided."""
        with self.db.transaction() as session:
            claimed = scheduler.claim_batch(session, task_ids, self.settings.step_lease_s)
        contexts = []
        for claim, row in claimed:
            ctx = _context(claim, row)
            refused = refusals.get(claim.task_id)
            if refused is not None:
                ctx.outcome = End(TaskState.FAILED, refused.description, refused.error)
            elif row.found is None:
                # The component vanished from the inventory after the task was queued.
                ctx.outcome = End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE,
                                  outcomes.MISSING_XNAME)
            else:
                try:
                    ctx.client = self.client_for({k[4:]: v for k, v in row._mapping.items()
                                                  if k.startswith("bmc_")})
                except CredentialsUnavailable as exc:
                    # Before any exchange: the BMC was not asked, nothing can have been applied.
                    ctx.outcome = End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE, str(exc))
            contexts.append(ctx)
        return contexts

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

    def _release(self, contexts: list[StepContext]) -> None:
        """Give the tasks back to the dispatcher a moment from now; if the database is still
        away, the reaper takes them back when their leases end."""
        retry_at = scheduler.utcnow() + timedelta(seconds=self.settings.confirm_interval_s)
        try:
            with self.db.transaction() as session:
                scheduler.release(session, [ctx.claim for ctx in contexts], retry_at)
        except (DatabaseUnavailable, OperationalError) as exc:
            log.warning("%d tasks wait for the reaper: %s", len(contexts), exc)

    def client_for(self, bmc: dict) -> RedfishClient:
        """The process's pooled client of a BMC (power-cap steps and the sweep share it).
        Raises CredentialsUnavailable from the credential source."""
        return bmc_clients.client_for(self.settings, self.credentials, bmc)

    # -- a task's step: its phases, and the one place that applies their outcomes -------------
    def step(self, ctx: StepContext) -> Steps:
        if ctx.outcome is None:
            while True:
                outcome = yield from self.PHASES[ctx.phase](self, ctx)
                if outcome is LOST:
                    return
                if not isinstance(outcome, Continue):
                    break
            ctx.outcome = outcome
        yield STORE   # the outcome: deferred until Wait.at, or ended

    def _gather(self, ctx: StepContext) -> Steps:
        state, exchange = yield Call(partial(ctx.client.get_power_state, ctx.system_path))
        ctx.unrecorded.append((exchange, "gather"))
        if state is None and exchange.error_class == "connection" and ctx.multi_tier:
            waiting = yield from self._wait_for_controller(ctx)
            if waiting is not None:
                return waiting
        outcome, actions = plan_actions(ctx.operation, state, ctx.allowable) if state else (
            None, [])
        if outcome is PlanOutcome.RUN and ctx.reset_target and all(
                reset_type_for(a, ctx.allowable) for a in actions):
            ctx.plan, ctx.phase = actions, "apply"
            ctx.action, ctx.action_sent_at, ctx.deadline_at = None, None, None
            ctx.tier = tier_of(actions[0], ctx.component_type)
            return Continue()
        if state is None:
            return End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE, exchange.error)
        if outcome is PlanOutcome.ALREADY:
            ctx.confirmed = state
            return End(TaskState.SUCCEEDED, outcomes.ALREADY_IN_STATE)
        if outcome is PlanOutcome.WRONG_STATE:
            return End(TaskState.FAILED, outcomes.must_be_on(ctx.operation.value),
                       outcomes.WRONG_POWER_STATE)
        return End(TaskState.FAILED, outcomes.FAILED_TO_CONSTRUCT,
                   outcomes.power_action_not_supported(ctx.xname))

    def _apply(self, ctx: StepContext) -> Steps:
        action = ctx.plan[0]
        if ctx.action is action and ctx.action_sent_at is not None:
            # An earlier attempt stored the intent and its worker died: the action may or may
            # not have reached the BMC. Never send blindly; read the state first.
            unsent = yield from self._unsent_after_crash(ctx, action)
            if not unsent:
                ctx.phase = "confirm"
                ctx.deadline_at = self._deadline_for(ctx, action, ctx.action_sent_at)
                return Continue()
        if ctx.multi_tier:
            closed = yield from self._tier_closed(ctx, action)
            if closed is not None:
                return closed
        reset_type, sent_at = reset_type_for(action, ctx.allowable), scheduler.utcnow()
        ctx.action, ctx.action_sent_at = action, sent_at
        ctx.description = outcomes.applying(action.value)
        ctx.intent = Intent("apply", ctx.reset_target, {ctx.reset_parameter: reset_type}, sent_at)
        if not (yield STORE):
            return LOST
        exchange = yield Call(partial(ctx.client.reset, ctx.reset_target, reset_type,
                                      ctx.reset_parameter))
        ctx.completion = (ctx.intent_id, exchange,
                          (outcomes.applying(action.value), reset_type) if exchange.ok else None)
        now = scheduler.utcnow()
        waited_s = 0.0 if exchange.ok else self._start_waiting(ctx, now)
        decided = after_reset(
            action, ResetAnswer(exchange.ok, exchange.status_code, exchange.maybe_delivered,
                                exchange.error, exchange.retry_after_s, exchange.location),
            last=len(ctx.plan) == 1, confirming=ctx.deadline_minutes != 0, now=now,
            wait_until=ctx.deadline_at, pause_s=2 * self.settings.confirm_interval_s,
            waited_s=waited_s)
        if isinstance(decided, Wait):
            ctx.action_sent_at = None   # refused, so not sent: the next step sends it again
        elif isinstance(decided, Continue):
            # The first read goes at once (a fast BMC is confirmed without another message);
            # later ones come at growing intervals, without holding this worker.
            ctx.phase, ctx.description = "confirm", outcomes.confirming(action.value)
            ctx.deadline_at = self._deadline_for(ctx, action, sent_at)
            ctx.task_monitor, ctx.moved_at = decided.task_monitor, None
        return decided

    def _confirm(self, ctx: StepContext) -> Steps:
        action = ctx.action
        if ctx.task_monitor:
            followed = yield from self._follow_task(ctx)
            if followed is not None:
                return followed
        observed, exchange = yield Call(partial(ctx.client.get_power_state, ctx.system_path))
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
            until_next_read(elapsed_s, self.settings.confirm_interval_s),
            escalates_to_force_off(ctx.operation, action, ctx.allowable), moving, resend)
        ctx.unrecorded.append((exchange, "confirm"))
        if step.next is Next.RESEND:
            return (yield from self._resend(ctx))
        if step.next is Next.CONFIRMED and self.push.enabled:
            # SMD hears of the new state before the task succeeds (a client may read SMD as
            # soon as the transition completes); what it does not take waits for the sweep.
            ctx.unpushed.update((yield Call(partial(self.push.push, {ctx.xname: observed}))))
        if step.next is Next.ASK_AGAIN:
            ctx.description = outcomes.confirming(action.value)
            return Wait(step.check_at)
        if step.next is Next.TIMED_OUT:
            if action in RESENDABLE and ctx.moved_at is not None and observed is not None:
                error = (f"{outcomes.timeout_waiting(action.value)} " + outcomes.fell_back(
                    self._reset_type(ctx), observed, ctx.resends + 1))
            else:
                error = yield from self._unconfirmed_error(ctx, observed, exchange)
            return End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE, error)
        if step.next is Next.FELL_BACK:
            return End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE,
                       outcomes.fell_back(self._reset_type(ctx), observed, ctx.resends + 1))
        if step.next is Next.ESCALATE:
            ctx.plan = [Action.FORCE_OFF] + ctx.plan[1:]
        else:
            ctx.plan = ctx.plan[1:]
            ctx.confirmed = observed
            ctx.events.append((events.CONFIRMED, outcomes.confirmed(action.value),
                               self._reset_type(ctx)))
            if not ctx.plan:
                return End(TaskState.SUCCEEDED, outcomes.confirmed(action.value))
        # The next action follows at once; its intent's STORE stores this confirmation too.
        ctx.phase, ctx.action_sent_at, ctx.deadline_at = "apply", None, None
        ctx.tier = tier_of(ctx.plan[0], ctx.component_type)
        return Continue()

    PHASES = {"gather": _gather, "apply": _apply, "confirm": _confirm}

    # -- the rarer turns of a phase -------------------------------------------------------------
    def _follow_task(self, ctx: StepContext) -> Steps:
        """Read the task monitor of an action the BMC accepted with 202. None once the task
        ended well (the power state decides next); otherwise Wait or End."""
        exchange = yield Call(partial(ctx.client.get, ctx.task_monitor))
        ctx.unrecorded.append((exchange, "monitor"))
        reading = read_task_monitor(exchange.status_code, exchange.json)
        if reading.progress is TaskProgress.DONE:
            ctx.task_monitor = None
            return None
        if reading.progress is TaskProgress.FAILED:
            return End(TaskState.FAILED, outcomes.failed_to_apply(ctx.action.value),
                       reading.message)
        now = scheduler.utcnow()
        if ctx.deadline_at is not None and now >= ctx.deadline_at:
            answer = exchange.error or f"{exchange.status_code}, still running"
            return End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE,
                       f"{outcomes.timeout_waiting(ctx.action.value)} The BMC's task monitor "
                       f"{ctx.task_monitor} last answered: {answer}")
        return Wait(now + timedelta(seconds=self.settings.confirm_interval_s))

    def _resend(self, ctx: StepContext) -> Steps:
        """Send an On or ForceOff again that left the power state unmoved (bounded by
        PCS_RESEND_LIMIT); the intent is stored first, as for the first send. Continue: the
        reads go on at once."""
        reset_type, sent_at = self._reset_type(ctx), scheduler.utcnow()
        ctx.resends, ctx.action_sent_at = ctx.resends + 1, sent_at
        ctx.intent = Intent("resend", ctx.reset_target, {ctx.reset_parameter: reset_type},
                            sent_at)
        if not (yield STORE):
            return LOST
        exchange = yield Call(partial(ctx.client.reset, ctx.reset_target, reset_type,
                                      ctx.reset_parameter))
        ctx.completion = (ctx.intent_id, exchange, None)
        if not (exchange.ok or exchange.maybe_delivered
                or exchange.status_code in (409, 503)):
            return End(TaskState.FAILED, outcomes.failed_to_apply(ctx.action.value),
                       exchange.error)
        # A busy or silent BMC: the reads decide, as after the first send (the first at once).
        ctx.task_monitor = exchange.location if exchange.status_code == 202 else None
        return Continue() if (yield STORE) else LOST

    def _unconfirmed_error(self, ctx: StepContext, observed: str | None,
                           read: Exchange) -> Steps:
        """Why the target was not seen by the deadline, quoting the BMC's last answer to the
        action (read back only when a task fails this way)."""
        if ctx.completion is not None:
            last = ctx.completion[1]   # sent in this very step, not yet stored
        else:
            task_id = ctx.claim.task_id
            last = yield Check(lambda session: session.execute(
                select(exchange_rows.c.status_code, exchange_rows.c.error)
                .where(exchange_rows.c.task_id == task_id,
                       exchange_rows.c.purpose.in_(("apply", "resend")))
                .order_by(exchange_rows.c.id.desc()).limit(1)).first())
        if last is None:
            answer = "none recorded"
        elif last.error:
            answer = last.error
        else:
            answer = f"{last.status_code} (accepted)"
        return outcomes.unconfirmed(ctx.action.value, self._reset_type(ctx), observed,
                                    ctx.resends + 1, answer, read.error)

    def _unsent_after_crash(self, ctx: StepContext, action: Action) -> Steps:
        """True when the state shows that an On or ForceOff whose sender died never arrived
        (still plainly in the old state, not moving): then it is sent now. Other actions are
        not repeated: a graceful shutdown may just be slow, a restart leaves no trace."""
        if action not in (Action.ON, Action.FORCE_OFF):
            return False
        state, exchange = yield Call(partial(ctx.client.get_power_state, ctx.system_path))
        ctx.unrecorded.append((exchange, "confirm"))
        return state is not None and state != TARGET_STATE[action] and not in_motion(exchange)

    def _tier_closed(self, ctx: StepContext, action: Action) -> Steps:
        """None when the action may go now; else Wait (an earlier tier is unfinished) or End
        (a child it depends on failed, or the reservation it acts under expired)."""
        if (yield Gate(ctx.tier)):   # an earlier tier is unfinished
            # Woken by the store that empties the earlier tier (_Lockstep._wake_next_tiers);
            # this re-check covers a tier emptied elsewhere (an abort, the reaper, a deadline).
            ctx.description = outcomes.WAITING_FOR_TIER
            return Wait(scheduler.utcnow() + timedelta(
                seconds=TIER_RECHECK_INTERVALS * self.settings.confirm_interval_s))
        child = None
        if action in OFF_ACTIONS and ctx.component_type != "Node":
            child = yield Check(partial(_failed_child, ctx))
        if child:
            return End(TaskState.FAILED, *outcomes.dependency_failure(
                action.value, child.xname, child.description, child.error))
        if ctx.reservation_deputy_key:
            # Before each power tier, the key the task acts under must still hold (a failed
            # check call is ignored, as upstream).
            valid = yield Call(partial(self.reservations.valid,
                                       {ctx.xname: ctx.reservation_deputy_key}))
            if valid is not None and ctx.xname not in valid:
                return End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE,
                           outcomes.RESERVATION_EXPIRED)
        return None

    def _wait_for_controller(self, ctx: StepContext) -> Steps:
        """A controller that does not answer while the transition powers its slot or chassis on
        is waited for (bounded by the task deadline): Wait, or None to give up waiting."""
        transition_id, xname = ctx.claim.transition_id, ctx.xname
        if not (yield Check(lambda session: sequencing.ancestor_in_transition(
                session, transition_id, xname))):
            return None
        now = scheduler.utcnow()
        self._start_waiting(ctx, now)
        if now >= ctx.deadline_at:
            return None   # give up waiting: the read's failure ends the task
        ctx.description = outcomes.WAITING_FOR_CONTROLLER
        return Wait(now + timedelta(seconds=self.settings.confirm_interval_s))

    # -- helpers ------------------------------------------------------------------------------
    def _start_waiting(self, ctx: StepContext, now: datetime) -> float:
        """Bound a wait before an action is sent (busy BMC, booting controller) by the task
        deadline from the first wait; with no deadline (-1) or none to confirm (0), 5 minutes.
        Returns the seconds waited so far."""
        span = timedelta(seconds=(ctx.deadline_minutes if ctx.deadline_minutes > 0 else 5)
                         * self.settings.minute_s)
        if ctx.deadline_at is None:
            ctx.deadline_at = now + span
        return max(0.0, (span - (ctx.deadline_at - now)).total_seconds())

    def _deadline_for(self, ctx: StepContext, action: Action, sent_at: datetime):
        if action is Action.FORCE_OFF and ctx.operation is not Operation.FORCE_OFF:
            # ForceOff sent by Off's escalation is confirmed within a fixed window.
            return sent_at + timedelta(seconds=self.settings.forceoff_confirm_s)
        return action_deadline(sent_at, ctx.deadline_minutes, self.settings.minute_s)

    def _reset_type(self, ctx: StepContext) -> str:
        return reset_type_for(ctx.action, ctx.allowable) or ctx.action.value


class _Lockstep:
    """Drives the steps of a batch together: each round runs what the steps wait for, all
    calls at once, all gates and checks in one transaction, all stores in one transaction."""

    def __init__(self, executor: Executor, contexts: list[StepContext]):
        self.executor = executor
        self.db = executor.db
        self.steps = {id(ctx): executor.step(ctx) for ctx in contexts}
        self.waiting: dict[int, tuple[StepContext, Request]] = {}
        self.calling: dict[Future, StepContext] = {}
        for ctx in contexts:
            self._advance(ctx, None)

    def run(self) -> None:
        while self.waiting or self.calling:
            self._start_calls()
            if self.calling:
                self._collect_calls()
                if any(isinstance(r, Call) for _, r in self.waiting.values()):
                    continue   # send those before storing: the BMCs work while we write
            gates, checks = self._take(Gate), self._take(Check)
            if gates or checks:
                with self.db.transaction() as session:
                    waiting = sequencing.earlier_tier_pending(session, [
                        (ctx.claim.task_id, ctx.claim.transition_id, gate.tier)
                        for ctx, gate in gates])
                    answers = [(ctx, ctx.claim.task_id in waiting) for ctx, _ in gates]
                    answers += [(ctx, request.read(session)) for ctx, request in checks]
                for ctx, answer in answers:
                    self._advance(ctx, answer)
                continue
            stores = [ctx for ctx, _ in self._take(_Store)]
            if stores:
                kept = self._store(stores)
                for ctx in stores:
                    self._advance(ctx, ctx.claim.task_id in kept and not ctx.ended)

    def _advance(self, ctx: StepContext, answer: Any, error: BaseException | None = None) -> None:
        """Send the step its answer; note what it asks for next."""
        step = self.steps[id(ctx)]
        with log_context(task_id=ctx.claim.task_id, transition_id=ctx.claim.transition_id,
                         xname=ctx.xname):
            try:
                request = step.throw(error) if error is not None else step.send(answer)
            except StopIteration:
                return
            except Exception:
                log.exception("step of task %s (%s) failed unexpectedly", ctx.claim.task_id,
                              ctx.xname)
                if ctx.ended:
                    return
                # Ended as failed with what it exchanged so far (a step that fails again here
                # would loop: it is not asked again).
                ctx.outcome = End(TaskState.FAILED, outcomes.FAILED_TO_ACHIEVE,
                                  outcomes.INTERNAL_ERROR)
                ctx.intent = None
                self.steps[id(ctx)] = _final_store()
                next(self.steps[id(ctx)])
                request = STORE
        self.waiting[id(ctx)] = (ctx, request)

    def _take(self, kind: type) -> list[tuple[StepContext, Request]]:
        taken = [(ctx, r) for ctx, r in self.waiting.values() if isinstance(r, kind)]
        for ctx, _ in taken:
            del self.waiting[id(ctx)]
        return taken

    def _start_calls(self) -> None:
        for ctx, call in self._take(Call):
            self.calling[self.executor.calls.submit(_in_context, ctx, call.run)] = ctx

    def _collect_calls(self) -> None:
        """Take the answers in. With steps waiting to store or check, only those already in;
        otherwise all of them, but not for longer than SLOW_BMC_S unless none is in yet."""
        if self.waiting:
            done, _ = wait(self.calling, timeout=0)
        else:
            done, _ = wait(self.calling, timeout=SLOW_BMC_S)
            if not done:
                done, _ = wait(self.calling, return_when=FIRST_COMPLETED)
        for future in done:
            ctx = self.calling.pop(future)
            error = future.exception()
            self._advance(ctx, None if error else future.result(), error)

    def _store(self, contexts: list[StepContext]) -> set[int]:
        """One transaction stores what the steps gathered: their exchanges, events and
        confirmed states, then each task's progress (still running, or waiting) or end, then
        the intents of the tasks still held. Returns the task ids still held."""
        now = scheduler.utcnow()
        with self.db.transaction() as session:
            exchanges.complete(session, [(c.completion[0], c.completion[1]) for c in contexts
                                         if c.completion is not None])
            exchanges.insert_done(session, [(c.claim.task_id, c.bmc_id, purpose, exchange)
                                            for c in contexts
                                            for exchange, purpose in c.unrecorded])
            for ctx in contexts:
                sent = ctx.completion[2] if ctx.completion is not None else None
                if sent is not None:
                    events.task(session, ctx.claim.transition_id, ctx.xname, events.ACTION_SENT,
                                "in-progress", sent[0], action=sent[1])
                for happened, description, action in ctx.events:
                    events.task(session, ctx.claim.transition_id, ctx.xname, happened,
                                "in-progress", description, action=action)
            state_push.keep_for_later(session, {k: v for c in contexts
                                                for k, v in c.unpushed.items()})
            power_status.record_confirmed(session, {c.xname: c.confirmed for c in contexts
                                                    if c.confirmed is not None}, now)
            saving = [c for c in contexts if not isinstance(c.outcome, End)]
            kept = scheduler.save(session, [_progress(c) for c in saving])
            lost = [c for c in saving if c.claim.task_id not in kept]
            aborting = scheduler.aborting(session, [c.claim.transition_id for c in lost])
            for ctx in lost:
                if ctx.claim.transition_id in aborting:
                    # Aborted while this step ran: what was sent is not reversed.
                    ctx.outcome = End(TaskState.FAILED, outcomes.aborted(ctx.description),
                                      outcomes.TRANSITION_ABORTED)
            ending = [c for c in contexts if isinstance(c.outcome, End)]
            self._release_reservations(session, ending)
            ended = scheduler.finish(session, [
                scheduler.Ending(c.claim, c.outcome.state, c.outcome.description,
                                 c.outcome.error or "") for c in ending])
            intents = exchanges.insert_intents(session, [
                (c.claim.task_id, c.bmc_id, c.intent) for c in saving
                if c.intent is not None and c.claim.task_id in kept])
        left: dict = {}   # transition id -> the lowest tier a task of this store left
        for ctx in contexts:
            ctx.ended = ctx.ended or ctx.claim.task_id in ended
            ctx.intent_id = intents.get(ctx.claim.task_id)
            ctx.unrecorded, ctx.events, ctx.unpushed = [], [], {}
            ctx.intent = ctx.completion = ctx.confirmed = None
            stored = None if ctx.ended else ctx.tier
            if ctx.multi_tier and ctx.stored_tier is not None and stored != ctx.stored_tier:
                tid = ctx.claim.transition_id
                left[tid] = min(left.get(tid, ctx.stored_tier), ctx.stored_tier)
            ctx.stored_tier = stored
        if left:
            self._wake_next_tiers(left)
        return kept

    def _wake_next_tiers(self, left: dict) -> None:
        """After the commit of a store whose tasks left a tier: where that tier is now empty,
        the tasks waiting in the next one go at once. Read after the commit, so that of two
        stores emptying a tier together the later one sees both."""
        try:
            with self.db.transaction() as session:
                now = scheduler.utcnow()
                opened = {tid: tier for tid, tier in sequencing.open_tiers(
                    session, list(left)).items() if tier is not None and tier > left[tid]}
                if sequencing.wake_tier(session, opened, now):
                    scheduler.wake_dispatchers(session)
        except (DatabaseUnavailable, OperationalError) as exc:
            log.warning("waking the next power tier failed, its tasks check again shortly: %s",
                        exc)

    def _release_reservations(self, session: Session, ending: list[StepContext]) -> None:
        """Released before the outcomes commit, so that each component's next queued task
        (promoted by this commit) can reserve it."""
        holding = [c for c in ending if c.reservation_key]
        if not holding:
            return
        self.executor.reservations.release({c.xname: c.reservation_key for c in holding})
        task_reservations.forget(session, [c.claim.task_id for c in holding])
        for ctx in holding:
            ctx.reservation_key = None


def _failed_child(ctx: StepContext, session: Session) -> sequencing.FailedChild | None:
    """A task of the transition below this component (or fed by this outlet) that failed."""
    transition_id = ctx.claim.transition_id
    child = sequencing.failed_descendant(session, transition_id, ctx.xname)
    if child is None and ctx.component_type == OUTLET_TYPE:
        child = sequencing.failed_fed_node(session, transition_id, ctx.xname)
    return child


def _final_store() -> Steps:
    yield STORE


def _in_context(ctx: StepContext, run: Callable[[], Any]) -> Any:
    with log_context(task_id=ctx.claim.task_id, transition_id=ctx.claim.transition_id,
                     xname=ctx.xname):
        return run()


def _context(claim: scheduler.Claim, row: Row) -> StepContext:
    if row.found is None:
        return StepContext(claim=claim, xname=claim.xname, description=row.description or "")
    return StepContext(
        claim=claim, xname=row.xname, operation=Operation(row.operation),
        deadline_minutes=row.task_deadline_minutes, phase=row.phase,
        plan=[Action(a) for a in row.plan], action=Action(row.action) if row.action else None,
        action_sent_at=row.action_sent_at, deadline_at=row.deadline_at,
        description=row.description or outcomes.GATHERING_DATA,
        system_path=row.redfish_path, reset_target=row.reset_target,
        reset_parameter=row.reset_parameter, allowable=list(row.allowable_values or []),
        bmc_id=row.bmc_id, component_type=row.type, tier=row.tier, stored_tier=row.tier,
        multi_tier=row.multi_tier, resends=row.resends, moved_at=row.moved_at,
        task_monitor=row.task_monitor, reservation_key=row.reservation_key,
        reservation_deputy_key=row.reservation_deputy_key)


def _progress(ctx: StepContext) -> scheduler.Progress:
    return scheduler.Progress(
        claim=ctx.claim, phase=ctx.phase, plan=[a.value for a in ctx.plan],
        action=ctx.action.value if ctx.action else None, action_sent_at=ctx.action_sent_at,
        deadline_at=ctx.deadline_at, description=ctx.description, tier=ctx.tier,
        resends=ctx.resends, moved_at=ctx.moved_at, task_monitor=ctx.task_monitor,
        next_check_at=ctx.outcome.at if isinstance(ctx.outcome, Wait) else None)

