"""What a task's step decides, as values that one place applies (pcs.queue.steps), and the
decision after a reset: pure, from what the BMC answered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pcs.domain import outcomes
from pcs.domain.confirmation import busy_retry_at
from pcs.domain.operations import Action
from pcs.domain.states import TaskState


@dataclass(frozen=True)
class Continue:
    """Go on to the task's next phase within the same step. After an accepted reset,
    `task_monitor` is the BMC's task to follow (202 Accepted with a Location)."""
    task_monitor: str | None = None


@dataclass(frozen=True)
class Wait:
    """Park the task (deferred, still holding its component) until `at`."""
    at: datetime


@dataclass(frozen=True)
class End:
    """End the task: succeeded, failed or unsupported, with PCS's description and error."""
    state: TaskState
    description: str
    error: str = ""


Outcome = Continue | Wait | End


@dataclass(frozen=True)
class ResetAnswer:
    """What the BMC answered to a Reset, as the decision needs it."""
    ok: bool
    status_code: int | None
    maybe_delivered: bool         # no answer: it may have arrived all the same
    error: str | None = None      # the BMC's words, or the transport's
    retry_after_s: float | None = None
    location: str | None = None   # of a 202 Accepted


def after_reset(action: Action, answer: ResetAnswer, *, last: bool, confirming: bool,
                now: datetime, wait_until: datetime | None, pause_s: float,
                waited_s: float) -> Outcome:
    """What follows a Reset: confirm (Continue), send again later (Wait: a busy BMC refused it),
    or end. `last`: no action follows this one; `confirming`: the transition confirms (its
    taskDeadlineMinutes is not 0); `wait_until`: the end of waiting for a busy BMC (the task's
    deadline counted from the first refusal); `waited_s`: how long it has waited so far."""
    if not answer.ok:
        retry_at = busy_retry_at(answer.status_code, answer.retry_after_s, now, wait_until,
                                 pause_s, waited_s)
        if retry_at is not None:
            return Wait(retry_at)
        failed = outcomes.failed_to_apply(action.value)
        error = answer.error or ""
        if not answer.maybe_delivered:
            return End(TaskState.FAILED, failed, error)
        if action is Action.GRACEFUL_RESTART:
            # A restart leaves no trace in the power state: whether it ran cannot be read.
            return End(TaskState.FAILED, failed, outcomes.restart_unknown(error))
        if not confirming:
            return End(TaskState.FAILED, failed, error)
        return Continue()   # it may have arrived: never send blindly, the reads decide
    if last and not confirming:
        return End(TaskState.SUCCEEDED, outcomes.applied_not_confirming(action.value))
    return Continue(answer.location if answer.status_code == 202 else None)
