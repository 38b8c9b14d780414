"""The hand-written serializers of hot endpoints produce exactly what the schemas dump."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from pcs.api.schemas import TransitionDetail, TransitionList, detail_fast, summary_fast
from pcs.queries import TaskView, TransitionView

NOW = datetime(2026, 11, 28, 12, 34, 56, 123456, tzinfo=timezone.utc)


def _view(status: str, tasks: list[TaskView]) -> TransitionView:
    counts = {"total": len(tasks), "new": 1, "in_progress": 2, "failed": 3, "succeeded": 4,
              "un_supported": 5}
    return TransitionView(uuid.uuid4(), "Hard-Restart", NOW, NOW + timedelta(days=1), status,
                          counts, tasks)


TASKS = [TaskView("x1000c0s0b0n0", "succeeded", "Transition confirmed, on", ""),
         TaskView("x1000c0s0b0n1", "failed", "Failed to apply transition, on",
                  "BMC answered 500 Internal Server Error: boom"),
         TaskView("x1000c0s1b0n0", "queued", "Queued behind transition x (position 2)", ""),
         TaskView("x1000c0s1b0n1", "deferred", "Confirming successful transition, on", ""),
         TaskView("x1000c0s2b0n0", "unsupported", "Component does not support ...",
                  "Unsupported for transition operation")]


@pytest.mark.parametrize("status", ["new", "in-progress", "completed", "aborted",
                                    "abort-signaled"])
def test_summary_fast_path_equals_the_schema(status):
    views = [_view(status, []), _view(status, [])]
    assert [summary_fast(v) for v in views] == TransitionList().dump(
        {"transitions": views})["transitions"]


def test_detail_fast_path_equals_the_schema():
    view = _view("in-progress", TASKS)
    assert detail_fast(view) == TransitionDetail().dump(view)
    assert "error" not in detail_fast(view)["tasks"][0]
