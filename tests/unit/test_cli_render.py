"""What the CLI prints: which view, the per-component line, the summary, the JSON document."""
from __future__ import annotations

import pytest

from pcs.cli.render import choose_view, components, result_document, summary_lines, task_line


@pytest.mark.parametrize("tty, flags, view", [
    (True, {}, "progress"), (False, {}, "plain"), (True, {"plain": True}, "plain"),
    (True, {"quiet": True}, "quiet"), (False, {"quiet": True}, "quiet"),
    (True, {"as_json": True, "quiet": True}, "json"), (False, {"as_json": True}, "json"),
])
def test_animation_only_on_a_terminal_that_asked_for_nothing_else(tty, flags, view):
    assert choose_view(tty, **flags) == view


def test_a_finished_component_is_one_line_with_description_and_error():
    assert task_line({"xname": "x1000c0s1b0n0", "taskStatus": "failed",
                      "description": "Failed to apply transition, on",
                      "error": "BMC answered 500 Internal Server Error"}) == (
        "x1000c0s1b0n0 failed: Failed to apply transition, on: "
        "BMC answered 500 Internal Server Error")
    assert task_line({"xname": "x1000c0s0b0n0", "taskStatus": "succeeded",
                      "description": "Transition confirmed, on", "error": ""}) == (
        "x1000c0s0b0n0 succeeded: Transition confirmed, on")


DETAIL = {
    "transitionID": "3f0c1a2b-0000-4000-8000-000000000000", "operation": "On",
    "transitionStatus": "completed",
    "taskCounts": {"total": 6, "new": 0, "in-progress": 0, "failed": 4, "succeeded": 2,
                   "un-supported": 0},
    "tasks": [{"xname": f"x1000c0s{s}b0n{n}", "taskStatus": "failed",
               "taskStatusDescription": "Failed to apply transition, on",
               "error": "BMC answered 503 Service Unavailable"} for s in (1, 2) for n in (0, 1)]
    + [{"xname": f"x1000c0s0b0n{n}", "taskStatus": "succeeded",
        "taskStatusDescription": "Transition confirmed, on"} for n in (0, 1)],
}


def test_summary_gives_counts_then_failures_by_error_as_ranges():
    assert summary_lines(DETAIL) == [
        "Transition 3f0c1a2b-0000-4000-8000-000000000000 (On): completed",
        "6 components: 2 succeeded, 4 failed",
        "failed (4): x1000c0s[1-2]b0n[0-1]: BMC answered 503 Service Unavailable",
    ]


def test_json_document_lists_each_failure_and_the_groups():
    doc = result_document(DETAIL)
    assert doc["transitionID"] == DETAIL["transitionID"]
    assert doc["transitionStatus"] == "completed" and doc["taskCounts"]["failed"] == 4
    assert [f["xname"] for f in doc["failures"]] == [
        "x1000c0s1b0n0", "x1000c0s1b0n1", "x1000c0s2b0n0", "x1000c0s2b0n1"]
    assert doc["failureGroups"] == [{"taskStatus": "failed",
                                     "error": "BMC answered 503 Service Unavailable",
                                     "count": 4, "xnames": "x1000c0s[1-2]b0n[0-1]"}]


def test_counts_of_components_read_as_english():
    assert [components(n) for n in (0, 1, 8)] == ["0 components", "1 component", "8 components"]
