"""Terminal text: log data cannot move the cursor or forge a line (human line and tail)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from laketrace.record.format import human_from_lake
from laketrace.record.terminal import INDENT, escape, indent_block

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
FORGED = "2026-01-01 00:00:00.000Z | INFO     | app:main:1 - all good"
HOSTILE_TEXT = f"ok\x1b[2J\x1b]0;title\x07\r{FORGED}\n{FORGED}\x9b31m\u202e\x00\x7f"


def test_escape_shows_control_characters():
    """ESC, CR, LF, BEL, NUL, DEL, C1 and bidi overrides become visible escapes; TAB stays."""
    assert escape("a\x1b[31m\r\n\x07\x00\x7f\x9b\u202e\u2028\tb") == (
        "a\\x1b[31m\\r\\n\\x07\\x00\\x7f\\x9b\\u202e\\u2028\tb"
    )
    assert escape("plain ascii and ünïcödé") == "plain ascii and ünïcödé"


def test_tail_line_cannot_forge_records():
    """A spool record with hostile text prints as one line plus indented traceback lines."""
    rec = {
        "ts": "2026-01-02T03:04:05.123456Z",
        "level": "INFO\x1b[8m",
        "logger": "app\r",
        "function": "f",
        "line": 3,
        "msg": HOSTILE_TEXT,
        "context": {"k\n": HOSTILE_TEXT},
        "traceback": f"Traceback (most recent call last):\nValueError: x\n{FORGED}\x1b[2J",
    }
    text = human_from_lake(rec)
    lines = text.split("\n")
    assert lines[0].startswith("2026-01-02 03:04:05.123Z | INFO\\x1b[8m")
    assert all(line.startswith(INDENT) for line in lines[1:])
    assert len(lines) == 4 and not _UNSAFE.search(text.replace("\n", ""))


def test_tail_line_tolerates_odd_json():
    """Non-string levels, a list as context and missing fields still give one safe line."""
    text = human_from_lake({"level": 5, "msg": None, "context": ["a\x1b"], "line": "x"})
    assert "\n" not in text and "\x1b" not in text


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_property_human_text_has_no_control_characters(msg, tb):
    """Property: a tail line never contains a raw control character, and every line after
    the first is indented, whatever the message and traceback hold."""
    text = human_from_lake({"ts": "t", "level": "INFO", "msg": msg, "traceback": tb or None})
    head, *rest = text.split("\n")
    assert not _UNSAFE.search(head)
    assert all(line.startswith(INDENT) and not _UNSAFE.search(line) for line in rest)
    assert escape(msg).count("\n") == 0
    assert indent_block(tb).count("\n") == tb.count("\n")
