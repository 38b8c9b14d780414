"""The event-stream parser of the CLI (the text format of Server-Sent Events)."""
from __future__ import annotations

from pcs.cli.client import split_lines
from pcs.cli.sse import SseEvent, parse_events


def test_stored_events_carry_their_id_and_progress_events_none():
    lines = ["id: 41", "event: task", 'data: {"xname": "x1000c0s0b0n0"}', "",
             "event: progress", 'data: {"taskCounts": {}}', "", ": keep-alive", "",
             "id: 42", "event: transition", 'data: {"transitionStatus": "completed"}', ""]
    events = list(parse_events(lines))
    assert events == [SseEvent("task", '{"xname": "x1000c0s0b0n0"}', "41"),
                      SseEvent("progress", '{"taskCounts": {}}', None),
                      SseEvent("transition", '{"transitionStatus": "completed"}', "42")]
    assert events[0].json() == {"xname": "x1000c0s0b0n0"}


def test_data_lines_join_and_crlf_and_missing_space_are_accepted():
    lines = ["event:end\r", "data:a\r", "data: b\r", "\r"]
    assert list(parse_events(lines)) == [SseEvent("end", "a\nb", None)]


def test_an_event_cut_off_before_its_blank_line_is_not_dispatched():
    assert list(parse_events(["id: 7", "event: task", 'data: {"xn'])) == []


def test_lines_split_on_line_feeds_across_chunks_only():
    chunks = [b"id: 1\nda", b"ta: {\"e\": \"a\xe2\x80", b"\xa8b\"}\n\n"]   # U+2028 in the JSON
    assert list(split_lines(chunks)) == ["id: 1", 'data: {"e": "a\u2028b"}', ""]
