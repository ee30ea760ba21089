"""Turning records into text: the human line, JSON for streams, and user templates."""

from __future__ import annotations

import operator
import string
import time
from collections.abc import Callable
from typing import Any

from . import encoding
from .encoder import context_map, field_name
from .record import Record, format_traceback, iso_utc
from .sanitize import UNRENDERABLE, render, safe_str, to_safe
from .terminal import escape, indent_block

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
    return " ".join(f"{escape(k)}={escape(v)}" for k, v in context_map(extra).items())


def human_line(rec: Record, *, color: bool = False) -> str:
    """``2026-11-28 13:24:20.123Z | INFO     | etl:main:42 - message | k=v`` (+ traceback).

    Control characters in every inserted value are escaped and a traceback follows on
    indented lines (see `laketrace.record.terminal`), so the text is safe for terminals.
    """
    level = safe_str(rec.level)
    site = f"{safe_str(rec.logger_name)}:{safe_str(rec.function)}:{safe_str(rec.line)}"
    msg = escape(safe_str(rec.message))
    text = f"{_local_time(rec.ts)} | {escape(level):<8} | {escape(site)} - {msg}"
    if rec.extra:
        text += " | " + _extra_text(rec.extra)
    if color:
        text = f"{_COLORS.get(level, '')}{text}{_RESET}"
    if rec.exception is not None:
        text += "\n" + indent_block(format_traceback(rec.exception))
    return text + "\n"


def human_from_lake(obj: dict[str, Any], *, color: bool = False) -> str:
    """The human line for a lake record read back from a spool file (used by ``tail``).

    Whatever the file holds, the text is escaped like `human_line`'s.
    """
    level = _lake_text(obj.get("level") or "")
    ts = _lake_text(obj.get("ts") or "").replace("T", " ")
    if len(ts) > 24:
        ts = ts[:23] + "Z"
    site = f"{_lake_text(obj.get('logger'))}:{_lake_text(obj.get('function'))}:" + _lake_text(
        obj.get("line")
    )
    msg = escape(_lake_text(obj.get("msg")))
    text = f"{escape(ts)} | {escape(level):<8} | {escape(site)} - {msg}"
    ctx = obj.get("context") or {}
    if isinstance(ctx, dict):
        if ctx:
            text += " | " + " ".join(
                f"{escape(_lake_text(k))}={escape(_lake_text(v))}" for k, v in ctx.items()
            )
    else:
        text += " | " + escape(_lake_text(ctx))
    if color:
        text = f"{_COLORS.get(level, '')}{text}{_RESET}"
    tb = obj.get("traceback")
    if tb:
        text += "\n" + indent_block(_lake_text(tb))
    return text


def _lake_text(value: Any) -> str:
    """A value read from a spool line as text (strings as they are, ``None`` as "None",
    other JSON as JSON)."""
    if type(value) is str:
        return value
    return "None" if value is None else encoding.dumps_str(value)


def json_line(rec: Record) -> str:
    """Compact JSON for streams with ``json=True``: bound and call fields at top level.

    Fields whose value needed a fallback are listed under ``laketrace.unrenderable``.
    """
    out: dict[str, Any] = {
        "ts": iso_utc(rec.ts),
        "level": safe_str(rec.level),
        "logger": safe_str(rec.logger_name),
        "msg": safe_str(rec.message),
    }
    bad = []
    for k, v in rec.extra.items():
        key = field_name(k)
        value, failed = render(v)
        if failed:
            bad.append(key)
        out[key if key not in out else f"field_{key}"] = value
    if bad:
        out[UNRENDERABLE] = bad
    if rec.exception is not None:
        out["exception"] = format_traceback(rec.exception)
    return encoding.dumps(out).decode("utf-8") + "\n"


_ALIASES = {"msg": "message", "logger": "logger_name", "name": "logger_name", "host": "hostname"}
_CONVERT: dict[str | None, Callable[[Any], Any]] = {
    None: lambda v: v,
    "r": repr,
    "s": str,
    "a": ascii,
}


def field_problem(field: str) -> str | None:
    """Why a ``format`` template field is refused, or None.

    A template names `FORMAT_FIELDS`, ``extra[key]`` (one bound or call field) and
    ``level.no``; no other attribute or index access.
    """
    if field in FORMAT_FIELDS or field == "level.no":
        return None
    if field.startswith("extra[") and field.endswith("]") and "[" not in field[6:-1]:
        return None if "]" not in field[6:-1] else "a key with ']'"
    if field.split(".")[0].split("[")[0] not in FORMAT_FIELDS:
        return "unknown field"
    return "attribute and index access is limited to {extra[key]} and {level.no}"


def _getter(field: str) -> Callable[[Record], Any]:
    if field in ("time", "timestamp"):  # {timestamp}: LakeTrace 1.x's name
        return lambda r: _local_time(r.ts)
    if field == "ts":
        return lambda r: iso_utc(r.ts)
    if field == "exception":
        return lambda r: "" if r.exception is None else indent_block(format_traceback(r.exception))
    if field == "level.no":
        return lambda r: r.level_no
    if field == "extra":  # the fields as JSON-safe values: no user repr() runs here
        return lambda r: to_safe(r.extra)
    if field.startswith("extra["):
        key = field[6:-1]
        return lambda r: r.extra.get(key, "")
    return operator.attrgetter(_ALIASES.get(field, field))


def _field_text(value: Any, conversion: str | None, spec: str) -> str:
    """One template field as text; a value whose hooks raise falls back to its safe text."""
    try:
        text = format(_CONVERT[conversion](value), spec)
    except Exception:
        text = safe_str(to_safe(value))
    return text if type(text) is str else safe_str(text)


def template_formatter(template: str) -> Callable[[Record], str]:
    """Compile a validated ``format`` template (see `field_problem`) into ``record -> str``.

    Every inserted value is escaped for terminals; ``{exception}`` is the traceback on
    indented lines (see `laketrace.record.terminal`).
    """
    fmt = template if template.endswith("\n") else template + "\n"
    parts = [
        (literal, None if name is None else _getter(name), name == "exception", conv, spec)
        for literal, name, spec, conv in string.Formatter().parse(fmt)
    ]

    def render(rec: Record) -> str:
        out = []
        for literal, get, is_block, conv, spec in parts:
            out.append(literal)
            if get is not None:
                text = _field_text(get(rec), conv, spec or "")
                out.append(text if is_block else escape(text))
        return "".join(out)

    return render
