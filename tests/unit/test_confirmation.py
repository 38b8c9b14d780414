"""Unit tests for pcs.domain.confirmation with plain datetimes."""
from datetime import datetime, timedelta, timezone

import pytest

from pcs.domain.confirmation import (ConfirmStep, Next, Resend, action_deadline,
                                     next_confirm_step)

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("now, deadline, can_escalate", [
    (at(0), at(60), False),
    (at(59), at(60), True),
    (at(60), at(60), False),        # reached exactly at the deadline still counts
    (at(600), at(60), True),        # and even when read after it
    (at(10_000), None, False),
])
@pytest.mark.parametrize("target", ["on", "off"])
def test_state_reached_is_confirmed(now, deadline, can_escalate, target):
    step = next_confirm_step(target, target, now, deadline, 1.0, can_escalate)
    assert step.next is Next.CONFIRMED


@pytest.mark.parametrize("observed", ["off", "undefined", None])
@pytest.mark.parametrize("interval_s, now, deadline, expected_check_at", [
    (1.0, at(0), at(60), at(1)),
    (5.0, at(10), at(60), at(15)),
    (5.0, at(58), at(60), at(60)),      # never after the deadline
    (30.0, at(59.5), at(60), at(60)),
    (1.0, at(0), None, at(1)),
    (2.5, at(100_000), None, at(100_002.5)),
])
def test_state_not_reached_before_deadline_asks_again(observed, interval_s, now, deadline,
                                                      expected_check_at):
    step = next_confirm_step(observed, "on", now, deadline, interval_s, can_escalate=True)
    assert step == ConfirmStep(Next.ASK_AGAIN, expected_check_at)
    if deadline is not None:
        assert step.check_at <= deadline


@pytest.mark.parametrize("now_s", [60, 60.001, 3600])
@pytest.mark.parametrize("observed", ["on", "undefined", None])
@pytest.mark.parametrize("can_escalate, expected", [(True, Next.ESCALATE),
                                                    (False, Next.TIMED_OUT)])
def test_at_or_after_the_deadline_escalates_or_times_out(now_s, observed, can_escalate, expected):
    step = next_confirm_step(observed, "off", at(now_s), at(60), 1.0, can_escalate)
    assert step.next is expected


@pytest.mark.parametrize("now_s", [0, 60, 3600, 10 ** 7])
@pytest.mark.parametrize("can_escalate", [True, False])
def test_no_deadline_never_times_out_or_escalates(now_s, can_escalate):
    step = next_confirm_step("on", "off", at(now_s), None, 1.0, can_escalate)
    assert step.next is Next.ASK_AGAIN
    assert step.check_at == at(now_s + 1)


def test_failed_read_asks_again_rather_than_failing():
    step = next_confirm_step(None, "off", at(5), at(60), 2.0, can_escalate=False)
    assert step == ConfirmStep(Next.ASK_AGAIN, at(7))


@pytest.mark.parametrize("minutes, minute_s, expected", [
    (-1, 60.0, None),
    (-1, 1.0, None),
    (0, 60.0, at(0)),
    (0, 1.0, at(0)),
    (5, 60.0, at(300)),
    (5, 1.0, at(5)),
    (1, 60.0, at(60)),
    (3, 0.5, at(1.5)),
])
def test_action_deadline_counts_from_when_the_action_is_sent(minutes, minute_s, expected):
    assert action_deadline(T0, minutes, minute_s) == expected


def test_action_deadline_moves_with_the_send_time():
    later = at(1234)
    assert action_deadline(later, 5, 1.0) == later + timedelta(seconds=5)


def test_busy_refusals_are_retried_within_the_bound_and_others_never():
    from datetime import datetime, timedelta, timezone

    from pcs.domain.confirmation import busy_retry_at
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    until = now + timedelta(seconds=10)
    assert busy_retry_at(503, None, now, until, 2.0) == now + timedelta(seconds=2)
    assert busy_retry_at(409, 5.0, now, until, 2.0) == now + timedelta(seconds=5)
    assert busy_retry_at(503, 60.0, now, until, 2.0) is None      # past the bound
    assert busy_retry_at(503, 600.0, now, None, 2.0) == now + timedelta(seconds=30)
    for status in (400, 401, 404, 500, None):
        assert busy_retry_at(status, None, now, until, 2.0) is None


def test_busy_pauses_back_off_without_retry_after_but_obey_it_when_given():
    from pcs.domain.confirmation import busy_retry_at
    pauses = []
    waited = 0.0
    for _ in range(6):
        pause = (busy_retry_at(503, None, at(waited), None, 2.0, waited) - at(waited))
        pauses.append(pause.total_seconds())
        waited += pauses[-1]
    assert pauses == [2.0, 2.0, 2.0, 3.0, 4.5, 6.75]
    assert busy_retry_at(503, 1.0, at(100), None, 2.0, 100.0) == at(101)
    assert busy_retry_at(409, None, at(500), None, 2.0, 500.0) == at(530)   # at most 30 s


# -- re-sends of an On or ForceOff that left the state unmoved ----------------------------------

def resend(sent_s: float = 0, moved: bool = False, resends: int = 0) -> Resend:
    return Resend(sent_at=at(sent_s), moved=moved, resends=resends, limit=2, after_s=10)


def test_unmoved_state_is_read_again_before_the_resend_interval():
    step = next_confirm_step("off", "on", at(9.9), at(300), 1.0, False, False, resend())
    assert step.next is Next.ASK_AGAIN


def test_unmoved_state_after_the_interval_is_sent_again():
    step = next_confirm_step("off", "on", at(10), at(300), 1.0, False, False, resend())
    assert step.next is Next.RESEND


def test_no_resend_beyond_the_limit_then_the_deadline_decides():
    step = next_confirm_step("off", "on", at(100), at(300), 1.0, False, False,
                             resend(sent_s=50, resends=2))
    assert step.next is Next.ASK_AGAIN
    step = next_confirm_step("off", "on", at(300), at(300), 1.0, False, False,
                             resend(sent_s=50, resends=2))
    assert step.next is Next.TIMED_OUT


def test_a_state_in_motion_is_never_sent_again():
    step = next_confirm_step("off", "on", at(100), at(300), 1.0, False, True, resend())
    assert step.next is Next.ASK_AGAIN


def test_a_failed_read_is_never_a_reason_to_resend():
    step = next_confirm_step(None, "on", at(100), at(300), 1.0, False, False, resend())
    assert step.next is Next.ASK_AGAIN


def test_a_state_that_moved_and_came_back_is_sent_again_at_once():
    step = next_confirm_step("off", "on", at(1), at(300), 1.0, False, False,
                             resend(moved=True))
    assert step.next is Next.RESEND


def test_a_state_that_keeps_falling_back_fails_when_no_resend_is_left():
    step = next_confirm_step("off", "on", at(1), at(300), 1.0, False, False,
                             resend(moved=True, resends=2))
    assert step.next is Next.FELL_BACK


def test_without_a_resend_rule_nothing_is_sent_again():
    step = next_confirm_step("on", "off", at(100), at(300), 1.0, False, False, None)
    assert step.next is Next.ASK_AGAIN


def test_reads_come_soon_after_the_action_and_spread_out_to_the_configured_interval():
    from pcs.domain.confirmation import confirm_interval
    assert confirm_interval(0.0, 1.0) == 0.1            # just sent: read again shortly
    assert confirm_interval(1.0, 1.0) == pytest.approx(0.2)
    assert confirm_interval(2.5, 1.0) == pytest.approx(0.5)
    assert confirm_interval(30.0, 1.0) == 1.0           # never rarer than configured
    assert confirm_interval(0.0, 0.05) == 0.05          # nor slower than configured


def test_reads_follow_a_schedule_counted_from_the_send():
    from pcs.domain.confirmation import until_next_read
    # Read at 0.1 s after the send, however late the last read came: a step that took
    # 0.07 s to read does not push the next read to 0.17 s.
    assert until_next_read(0.0, 1.0) == pytest.approx(0.1)
    assert until_next_read(0.07, 1.0) == pytest.approx(0.03)
    # A point about to come (within the slack) is being read now: the one after it is next.
    assert until_next_read(0.295, 1.0) == pytest.approx(0.105)
    # The points grow with the time since the send (0.6, 0.72, 0.864, ...), then stay on a
    # grid of PCS_CONFIRM_INTERVAL_S.
    assert 0.6 + until_next_read(0.6, 1.0) == pytest.approx(0.72)
    assert 7.3 + until_next_read(7.3, 1.0) == pytest.approx(7.35, abs=0.001)
    assert 0 < until_next_read(100.25, 2.0) <= 2.0
    assert until_next_read(0.0, 0.05) == pytest.approx(0.05)   # never rarer than configured
    assert all(until_next_read(e / 10, 1.0) > 0 for e in range(200))
