"""What to do after reading the power state of a component whose action was sent (pure)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Next(str, Enum):
    CONFIRMED = "confirmed"
    ASK_AGAIN = "ask-again"
    ESCALATE = "escalate"        # graceful shutdown ran out of time: send ForceOff
    TIMED_OUT = "timed-out"
    RESEND = "resend"            # an On or ForceOff left the state unmoved: send it again
    FELL_BACK = "fell-back"      # the state moved, then went back, and no re-send is left


@dataclass(frozen=True)
class Resend:
    """What the re-send rule knows of an On or ForceOff (the only actions ever re-sent: a
    graceful action may just be slow, and a restart leaves no trace to judge by)."""
    sent_at: datetime            # the latest send
    moved: bool                  # a read since then showed the state in motion
    resends: int                 # re-sends so far
    limit: int                   # PCS_RESEND_LIMIT
    after_s: float               # PCS_RESEND_AFTER_S


@dataclass(frozen=True)
class ConfirmStep:
    next: Next
    check_at: datetime | None = None


def next_confirm_step(observed: str | None, target: str, now: datetime,
                      deadline: datetime | None, interval_s: float,
                      can_escalate: bool, moving: bool = False,
                      resend: Resend | None = None) -> ConfirmStep:
    """observed is the state read now (None when the read failed), moving whether that read
    showed a change under way; deadline None = no deadline; resend None = never re-send."""
    if observed == target:
        return ConfirmStep(Next.CONFIRMED)
    if deadline is not None and now >= deadline:
        return ConfirmStep(Next.ESCALATE if can_escalate else Next.TIMED_OUT)
    if resend is not None and observed is not None and not moving:
        if resend.moved:
            # It began to move and came back: the BMC acted, the component did not stay.
            return ConfirmStep(Next.RESEND if resend.resends < resend.limit else Next.FELL_BACK)
        unmoved_s = (now - resend.sent_at).total_seconds()
        if unmoved_s >= resend.after_s and resend.resends < resend.limit:
            return ConfirmStep(Next.RESEND)
    check_at = now + timedelta(seconds=interval_s)
    if deadline is not None:
        check_at = min(check_at, deadline)
    return ConfirmStep(Next.ASK_AGAIN, check_at)


# Confirmation reads come at once, then at intervals that grow with the time the action has
# been under way, up to PCS_CONFIRM_INTERVAL_S: a fast BMC is confirmed within a tenth of a
# second or so of reaching the state, a slow one is not read more often than it needs.
FIRST_INTERVAL_S = 0.1
INTERVAL_GROWTH = 0.2     # of the time since the action was sent


def confirm_interval(elapsed_s: float, longest_s: float) -> float:
    """Seconds until the next power-state read, `elapsed_s` after the action was sent."""
    return min(longest_s, max(FIRST_INTERVAL_S, INTERVAL_GROWTH * elapsed_s))


def until_next_read(elapsed_s: float, longest_s: float) -> float:
    """Seconds from now, `elapsed_s` after the action was sent, to the next read of its
    schedule. The schedule is counted from the send (each point confirm_interval after the one
    before), not from the last read: the time a read and its step took does not push every
    later read back. A point closer than SCHEDULE_SLACK_S is skipped (it is being read now)."""
    elapsed_s = max(0.0, elapsed_s) + SCHEDULE_SLACK_S
    at = 0.0
    while at <= elapsed_s:
        step = confirm_interval(at, longest_s)
        if step >= longest_s:   # the steady part: on a grid of longest_s from here
            at += step * (1 + int((elapsed_s - at) // step))
            break
        at += step
    return at - elapsed_s + SCHEDULE_SLACK_S


SCHEDULE_SLACK_S = 0.01


def action_deadline(sent_at: datetime, deadline_minutes: int, minute_s: float) -> datetime | None:
    """Each action's deadline counts from when it is sent; -1 means none."""
    if deadline_minutes < 0:
        return None
    return sent_at + timedelta(seconds=deadline_minutes * minute_s)


BUSY_STATUSES = (409, 503)
BUSY_PAUSE_MAX_S = 30.0


def busy_retry_at(status: int | None, retry_after_s: float | None, now: datetime,
                  until: datetime | None, pause_s: float, waited_s: float = 0.0) -> datetime | None:
    """When to send an action again that a busy BMC refused (409 Conflict, 503 Unavailable: the
    action was not applied), or None to give up and fail with the BMC's answer. Other refusals
    are never repeated. The BMC's Retry-After is obeyed; without one the pause backs off, half
    the time already waited since the first refusal (waited_s), at least pause_s."""
    if status not in BUSY_STATUSES:
        return None
    pause = max(pause_s, waited_s / 2)
    wait = min(retry_after_s if retry_after_s is not None else pause, BUSY_PAUSE_MAX_S)
    at = now + timedelta(seconds=wait)
    if until is not None and at > until:
        return None
    return at
