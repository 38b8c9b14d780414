"""Log lines as JSON or text, with the context of the work they are about."""
import json
import logging
import sys

from pcs.runtime.logs import (ContextFilter, JsonFormatter, TextFormatter, TEXT_FORMAT, add_log_context,
                      log_context, reset_log_context)


def _line(formatter, message="step failed", exc_info=None, **extra) -> str:
    record = logging.LogRecord("pcs.queue.steps", logging.WARNING, __file__, 1, message, (),
                               exc_info)
    for k, v in extra.items():
        setattr(record, k, v)
    ContextFilter().filter(record)
    return formatter.format(record)


def test_a_json_line_carries_time_level_process_and_the_work_in_hand():
    with log_context(task_id=7):
        add_log_context(transition_id="3f0c", xname="x1000c0s0b0n0")
        line = json.loads(_line(JsonFormatter()))
    assert line["level"] == "WARNING" and line["logger"] == "pcs.queue.steps"
    assert line["message"] == "step failed" and line["time"].endswith("Z")
    assert {"process", "pid"} <= set(line)
    assert (line["task_id"], line["transition_id"], line["xname"]) == (
        "7", "3f0c", "x1000c0s0b0n0")


def test_context_ends_with_its_block_or_token():
    with log_context(task_id=7):
        pass
    token = add_log_context(request_id="r1")
    reset_log_context(token)
    line = json.loads(_line(JsonFormatter()))
    assert "task_id" not in line and "request_id" not in line


def test_extra_fields_and_exceptions_join_the_json_object():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    line = json.loads(_line(JsonFormatter(), exc_info=exc_info,
                            fields={"status": 200, "subject": None}))
    assert line["status"] == 200 and line["subject"] is None
    assert "RuntimeError: boom" in line["exception"]


def test_a_text_line_shows_the_context_after_the_message():
    with log_context(xname="x1000c0s0b0n0"):
        text = _line(TextFormatter(TEXT_FORMAT))
    assert text.endswith("pcs.queue.steps: step failed [xname=x1000c0s0b0n0]")
