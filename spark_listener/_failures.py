"""Spark failure reasons turned into what a reader needs: the root cause in one line, the
traceback (Python or Java), and the exception in Spark's structured-log shape.

Spark reports a failed task, stage or job as one long text: wrappers ("Job aborted due to
stage failure: ... most recent failure: Lost task ... :"), then either a
``PythonException`` carrying the Python worker's traceback, or a JVM exception with its
``\\tat`` frames and ``Caused by:`` chain.

>>> f = parse_failure(
...     "org.apache.spark.api.python.PythonException: Traceback (most recent call last):\\n"
...     '  File "job.py", line 3, in f\\n    return 1 / 0\\n'
...     "ZeroDivisionError: division by zero\\n\\n\\tat org.apache.spark.X.y(X.scala:1)\\n"
... )
>>> f.summary
'ZeroDivisionError: division by zero'
>>> f.exception["stacktrace"][0]["method"]
'f'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: longest raw reason kept in ``context['reason']``
REASON_LIMIT = 32 * 1024
_SUMMARY_LIMIT = 500

_WRAPPER = re.compile(
    r"^(?:Job aborted due to stage failure: )?Task \S+ in stage \S+ failed \d+ times?, "
    r"most recent failure: Lost task \S+ in stage \S+ \(TID \d+\) \([^)]*\): ",
    re.S,
)
_KILLED = re.compile(r"^TaskKilled \((.*)\)\s*$", re.S)
_PY_START = "Traceback (most recent call last):"
_PY_CHAIN = re.compile(
    r"\n(?:The above exception was the direct cause of the following exception:|"
    r"During handling of the above exception, another exception occurred:)\n"
)
_PY_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<method>.+)$')
_JAVA_FRAME = re.compile(
    r"^\s+at (?:[\w.$-]+/)?(?P<cls>[\w.$<>]+)\.(?P<method>[\w$<>-]+)"
    r"\((?P<file>[^:)]*)(?::(?P<line>\d+))?\)"
)
_JAVA_HEAD = re.compile(r"^(?P<cls>[a-zA-Z_$][\w$]*(?:\.[\w$]+)+)(?::\s?(?P<msg>.*))?$", re.S)


@dataclass(frozen=True)
class Failure:
    """A parsed failure: ``summary`` is ``"<Class>: <first line of message>"``."""

    summary: str
    exception: dict[str, Any] | None = None
    traceback: str | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)


def cap_reason(text: str | None) -> str | None:
    """The raw reason as kept in the record's context (capped)."""
    if text is None or len(text) <= REASON_LIMIT:
        return text
    return text[:REASON_LIMIT] + f"... [{len(text) - REASON_LIMIT} more characters]"


def parse_failure(text: str | None) -> Failure:
    """Parse a Spark failure reason; never raises (unknown text gives its first line)."""
    raw = str(text or "").strip()
    try:
        return _parse(raw)
    except Exception:  # a listener must never fail on an odd reason text
        return Failure(_first_line(raw))


def _parse(raw: str) -> Failure:
    killed = _KILLED.match(raw)
    if killed:  # "TaskKilled (another attempt succeeded)" or "(Stage cancelled: <cause>)"
        why = killed.group(1)
        if not why.startswith("Stage cancelled: "):
            return Failure(f"TaskKilled ({_first_line(why)})")
        inner = _parse(why[len("Stage cancelled: ") :])
        cause = f" after {inner.summary}" if inner.summary else ""
        return Failure(f"TaskKilled (stage cancelled{cause})")
    body = _WRAPPER.sub("", raw, count=1)
    py = body.find(_PY_START)
    if py >= 0 and "PythonException" in body[:py]:
        return _python(body[py:])
    if _JAVA_HEAD.match(body.split("\n", 1)[0]):
        return _java(body)
    return Failure(_first_line(body))


def _python(text: str) -> Failure:
    """A Python worker's traceback (Java frames after it are dropped)."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("\tat ") or line.startswith("\t... "):
            break
        lines.append(line)
    traceback = "\n".join(lines).rstrip()
    last = _PY_CHAIN.split(traceback)[-1]
    frames: list[dict[str, Any]] = []
    tail: list[str] = []
    for line in last.split("\n"):
        m = _PY_FRAME.match(line)
        if m:
            frames.append(
                {"class": None, "method": m["method"], "file": m["file"], "line": m["line"]}
            )
            tail = []
        elif line.startswith("    ") or line.startswith(_PY_START):
            continue  # source lines and ^^^ markers under a frame
        else:
            tail.append(line)
    head = "\n".join(tail).strip()
    cls, _, msg = head.partition(": ") if ": " in head.split("\n", 1)[0] else (head, "", "")
    exception = {"class": cls or "PythonException", "msg": msg or None, "stacktrace": frames}
    return Failure(_summary(cls, msg), exception, traceback, frames)


def _java(text: str) -> Failure:
    """A JVM exception with its frames; a ``Caused by:`` chain adds the root cause."""
    blocks = re.split(r"\n\s*Caused by: ", text)
    top_cls, top_msg, frames = _java_block(blocks[0])
    summary = _summary(top_cls.rsplit(".", 1)[-1], top_msg)
    if len(blocks) > 1:
        root_cls, root_msg, _ = _java_block(blocks[-1])
        summary = f"{summary} (caused by {_summary(root_cls.rsplit('.', 1)[-1], root_msg)})"
    exception = {"class": top_cls, "msg": top_msg or None, "stacktrace": frames}
    return Failure(summary[: 2 * _SUMMARY_LIMIT], exception, text.rstrip(), frames)


def _java_block(block: str) -> tuple[str, str, list[dict[str, Any]]]:
    head_lines = []
    frames: list[dict[str, Any]] = []
    for line in block.split("\n"):
        m = _JAVA_FRAME.match(line)
        if m:
            frames.append(
                {"class": m["cls"], "method": m["method"], "file": m["file"], "line": m["line"]}
            )
        elif not frames and not line.lstrip().startswith(("...", "Suppressed:")):
            head_lines.append(line)
    m = _JAVA_HEAD.match("\n".join(head_lines).strip())
    if m is None:
        return "java.lang.Throwable", _first_line(block), frames
    return m["cls"], (m["msg"] or "").strip(), frames


def _summary(cls: str, msg: str) -> str:
    first = _first_line(msg)
    text = f"{cls}: {first}" if first else cls
    return text[:_SUMMARY_LIMIT]


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:_SUMMARY_LIMIT]
    return ""
