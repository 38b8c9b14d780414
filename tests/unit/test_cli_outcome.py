"""The CLI's decisions about a transition's result: exit status, failures by error, counts."""
from __future__ import annotations

import pytest

from pcs.cli.outcome import (RunningCounts, exit_status, failure_groups, group_tasks,
                             rate_and_eta)


def counts(**kw):
    base = {"total": 0, "new": 0, "in-progress": 0, "failed": 0, "succeeded": 0,
            "un-supported": 0}
    return {**base, **{k.replace("_", "-"): v for k, v in kw.items()}}


@pytest.mark.parametrize("c, expected", [
    (counts(total=200, succeeded=200), 0),
    (counts(total=200, succeeded=199, failed=1), 1),
    (counts(total=3, succeeded=2, un_supported=1), 1),       # unsupported is not success
    (counts(total=4, succeeded=2, in_progress=2), 1),        # aborted part-way
    (counts(total=0), 1),                                    # nothing succeeded at nothing
])
def test_exit_status_is_zero_only_when_every_component_succeeded(c, expected):
    assert exit_status(c) == expected


def task(xname, status, error="", description=""):
    t = {"xname": xname, "taskStatus": status, "taskStatusDescription": description}
    if error:
        t["error"] = error
    return t


def test_failures_are_grouped_by_error_with_xnames_folded_into_ranges():
    tasks = [task("x1000c0s0b0n0", "succeeded", description="Transition confirmed, on"),
             task("x1000c0s1b0n0", "failed", "BMC answered 503 Service Unavailable"),
             task("x1000c0s1b0n1", "failed", "BMC answered 503 Service Unavailable"),
             task("x1000c0s2b0n0", "failed", "BMC answered 503 Service Unavailable"),
             task("x1000c0s2b0n1", "failed", "BMC answered 503 Service Unavailable"),
             task("x1000c0s3b0n0", "failed", "Missing xname"),
             task("x1000c0s3b0", "unsupported", "Unsupported for transition operation")]
    groups = failure_groups(tasks)
    assert [(g.status, len(g.xnames), g.ranges, g.reason) for g in groups] == [
        ("failed", 4, "x1000c0s[1-2]b0n[0-1]", "BMC answered 503 Service Unavailable"),
        ("failed", 1, "x1000c0s3b0n0", "Missing xname"),
        ("unsupported", 1, "x1000c0s3b0", "Unsupported for transition operation"),
    ]


def test_a_task_without_error_is_grouped_by_its_description():
    groups = group_tasks([task("x1000c0s0b0n0", "succeeded", description="Already on"),
                          task("x1000c0s0b0n1", "succeeded", description="Already on")])
    assert [(g.status, g.ranges, g.reason) for g in groups] == [
        ("succeeded", "x1000c0s0b0n[0-1]", "Already on")]


def test_running_counts_follow_task_events_between_reports():
    running = RunningCounts()
    running.reported(counts(total=4, new=2, in_progress=2))
    running.task_changed("x1000c0s0b0n0", "succeeded")
    running.task_changed("x1000c0s0b0n1", "failed")
    running.task_changed("x1000c0s0b0n1", "failed")        # a repeat changes nothing
    assert running.counts == counts(total=4, new=2, succeeded=1, failed=1)
    assert running.ended == 2
    running.task_changed("x1000c0s1b0n0", "in-progress")
    assert running.counts == counts(total=4, new=1, in_progress=1, succeeded=1, failed=1)


def test_a_report_ahead_of_the_events_is_not_counted_twice():
    running = RunningCounts()
    running.reported(counts(total=4, succeeded=3, in_progress=1))   # the snapshot is ahead
    for i in range(3):                                              # its events arrive late
        running.task_changed(f"x1000c0s{i}b0n0", "succeeded")
    assert running.counts == counts(total=4, succeeded=3, in_progress=1)
    running.task_changed("x1000c0s3b0n0", "succeeded")
    assert running.counts == counts(total=4, succeeded=4)


def test_running_counts_before_any_report_count_what_the_replay_showed():
    running = RunningCounts()
    for i, status in enumerate(["succeeded", "succeeded", "failed", "new"]):
        running.task_changed(f"x1000c0s{i}b0n0", status)
    assert running.counts == counts(total=4, succeeded=2, failed=1, new=1)


@pytest.mark.parametrize("ended, total, at_start, elapsed, expected", [
    (50, 200, 0, 10.0, (5.0, 30.0)),
    (150, 200, 100, 10.0, (5.0, 10.0)),      # the replayed 100 are not part of the rate
    (100, 200, 100, 10.0, (None, None)),     # nothing ended while watching yet
    (0, 200, 0, 0.0, (None, None)),
])
def test_rate_counts_only_what_ended_while_watching(ended, total, at_start, elapsed, expected):
    assert rate_and_eta(ended, total, at_start, elapsed) == expected
