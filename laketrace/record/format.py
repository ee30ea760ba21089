"""Turning records into text: the human line, JSON for streams, and user templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import encoding
from .record import Record, format_traceback, iso_utc

_COLORS = {
    "TRACE": "\x1b[2m",
    "DEBUG": "\x1b[36m",
    "INFO": "\x1b[1m",
    "SUCCESS": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;41m",
}
_RESET = "\x1b[0m"
#: the fields a ``format`` template may name
FORMAT_FIELDS = (
    "time",
    "timestamp",
    "ts",
    "level",
    "level_no",
    "message",
    "msg",
    "name",
    "logger",
    "logger_name",
    "module",
    "function",
    "line",
    "file",
    "thread_name",
    "thread_id",
    "pid",
    "hostname",
    "host",
    "run_id",
    "record_id",
    "source",
    "runtime",
    "extra",
    "exception",
    "app_id",
    "app_name",
    "job_id",
    "stage_id",
    "partition_id",
    "task_attempt",
    "job_group",
    "notebook",
)


def _local_time(ts: float) -> str:
    t = time.gmtime(ts)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', t)}.{int((ts % 1) * 1000):03d}Z"


def _extra_text(extra: dict[str, Any]) -> str:
    parts = []
    for k, v in extra.items():
        parts.append(f"{k}={v if type(v) is str else encoding.context_value(v)}")
    return " ".join(parts)


def human_line(rec: Record, *, color: bool = False) -> str:
    """``2026-11-28 13:24:20.123Z | INFO     | etl:main:42 - message | k=v`` (+ traceback)."""
    level = str(rec.level)
    head = f"{_local_time(rec.ts)} | {level:<8} | {rec.logger_name}:{rec.function}:{rec.line} - "
    text = head + rec.message
    if rec.extra:
        text += " | " + _extra_text(rec.extra)
    if color:
        text = f"{_COLORS.get(level, '')}{text}{_RESET}"
    if rec.exception is not None:
        text += "\n" + format_traceback(rec.exception)
    return text + "\n"


def human_from_lake(obj: dict[str, Any], *, color: bool = False) -> str:
    """The human line for a lake record read back from a spool file (used by ``tail``)."""
    level = str(obj.get("level") or "")
    ts = str(obj.get("ts") or "").replace("T", " ")
    if len(ts) > 24:
        ts = ts[:23] + "Z"
    site = f"{obj.get('logger')}:{obj.get('function')}:{obj.get('line')}"
    text = f"{ts} | {level:<8} | {site} - {obj.get('msg')}"
    ctx = obj.get("context") or {}
    if ctx:
        text += " | " + " ".join(f"{k}={v}" for k, v in ctx.items())
    if color:
        text = f"{_COLORS.get(level, '')}{text}{_RESET}"
    if obj.get("traceback"):
        text += "\n" + str(obj["traceback"])
    return text


def json_line(rec: Record) -> str:
    """Compact JSON for streams with ``json=True``: bound and call fields at top level."""
    out: dict[str, Any] = {
        "ts": iso_utc(rec.ts),
        "level": str(rec.level),
        "logger": rec.logger_name,
        "msg": rec.message,
    }
    for k, v in rec.extra.items():
        key = k if type(k) is str else str(k)
        out[key if key not in out else f"field_{key}"] = v
    if rec.exception is not None:
        out["exception"] = format_traceback(rec.exception)
    return encoding.dumps(out).decode("utf-8") + "\n"


class _FormatView(dict):
    """Lazy mapping of template fields for a record (only the fields used are computed)."""

    __slots__ = ("_rec",)

    def __init__(self, rec: Record) -> None:
        super().__init__()
        self._rec = rec

    def __missing__(self, key: str) -> Any:
        r = self._rec
        if key in ("time", "timestamp"):  # {timestamp}: LakeTrace 1.x's name
            value: Any = _local_time(r.ts)
        elif key == "ts":
            value = iso_utc(r.ts)
        elif key in ("message", "msg"):
            value = r.message
        elif key in ("name", "logger", "logger_name"):
            value = r.logger_name
        elif key in ("host", "hostname"):
            value = r.hostname
        elif key == "exception":
            value = format_traceback(r.exception) if r.exception is not None else ""
        else:
            value = getattr(r, key)
        self[key] = value
        return value


def template_formatter(template: str) -> Callable[[Record], str]:
    """Compile a validated ``format`` template into a ``record -> str`` function."""
    fmt = template if template.endswith("\n") else template + "\n"

    def render(rec: Record) -> str:
        return fmt.format_map(_FormatView(rec))

    return render
