"""The one lake-line encoder: a record becomes one JSON object of the lake schema plus ``\\n``.

A line is the per-call fields (`CALL_FIELDS`, encoded for each record) followed by the
static tail (`STATIC_FIELDS`: logger, run, host, process and Spark context), which is
encoded once per logger and context and appended as bytes. The two lists together are
exactly the spool columns of `laketrace.schema` (checked at import).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..schema import SPOOL_COLUMNS
from . import encoding
from .record import NO_JOB, Record, exception_struct, format_traceback, iso_utc
from .sanitize import UNRENDERABLE, safe_repr, safe_str, unprintable

CALL_FIELDS = (
    "ts",
    "level",
    "level_no",
    "msg",
    "context",
    "record_id",
    "thread_name",
    "module",
    "function",
    "line",
)
STATIC_FIELDS = (
    "logger",
    "exception",
    "traceback",
    "source",
    "run_id",
    "host",
    "pid",
    "runtime",
    "app_id",
    "app_name",
    "job_id",
    "stage_id",
    "partition_id",
    "task_attempt",
    "job_group",
    "notebook",
)
if sorted(CALL_FIELDS + STATIC_FIELDS) != sorted(SPOOL_COLUMNS):  # pragma: no cover
    raise RuntimeError("laketrace.record.encoder fields differ from laketrace.schema columns")

_entry = encoding.context_entry
_EMPTY: Mapping[str, str] = {}


def context_map(extra: Mapping[Any, Any]) -> dict[str, str]:
    """``extra`` as the lake ``context`` map: keys as strings, non-string values as JSON.

    Fields whose value needed a fallback to be rendered are listed (as a JSON array) under
    ``laketrace.unrenderable``.
    """
    return merge_context(_EMPTY, extra) if extra else {}  # type: ignore[return-value]


def merge_context(bound: Mapping[str, str], fields: Mapping[Any, Any]) -> Mapping[str, str]:
    """Pre-encoded bound fields (a `context_map`) plus call fields, as the ``context`` column.

    Strings and ints are the common case and skip the sanitiser (one type check each).
    """
    if not fields:
        return bound
    context = dict(bound)
    bad: list[str] | None = None
    for k, v in fields.items():
        if type(k) is not str:
            k = field_name(k)
        t = type(v)
        if t is str:
            context[k] = v
            continue
        if t is int:
            try:
                context[k] = str(v)
                continue
            except ValueError:  # more digits than sys.get_int_max_str_digits()
                pass
        text, failed = _entry(v)
        context[k] = text
        if failed:
            bad = [k] if bad is None else [*bad, k]
    if bad is not None:
        _mark_unrenderable(context, bad, bound)
    return context


def field_name(key: object) -> str:
    """A field key as an exact ``str`` (keys are nearly always ``str`` already)."""
    return key if type(key) is str else _key_text(key)


def _key_text(key: object) -> str:
    if issubclass(type(key), str):  # the real type: a hostile __class__ cannot run here
        return str.__str__(key)  # type: ignore[arg-type]
    return safe_str(key)


def _mark_unrenderable(context: dict[str, str], bad: list[str], bound: Mapping[str, str]) -> None:
    earlier = bound.get(UNRENDERABLE)
    if earlier:
        try:
            names = [n for n in json.loads(earlier) if n not in bad]
        except ValueError:
            names = []
        bad = names + bad
    context[UNRENDERABLE] = encoding.dumps_str(bad)


def _static(rec: Record) -> dict[str, Any]:
    job = rec.job or NO_JOB
    exc = rec.exception
    return {
        "logger": rec.logger_name,
        "exception": exception_struct(exc) if exc is not None else None,
        "traceback": format_traceback(exc) if exc is not None else None,
        "source": rec.source,
        "run_id": rec.run_id,
        "host": rec.hostname,
        "pid": rec.pid,
        "runtime": rec.runtime,
        "app_id": rec.app_id,
        "app_name": rec.app_name,
        "job_id": job.job_id,
        "stage_id": job.stage_id,
        "partition_id": job.partition_id,
        "task_attempt": job.task_attempt,
        "job_group": job.job_group,
        "notebook": job.notebook,
    }


_frag_cache: dict[tuple, bytes] = {}


def static_fragment(rec: Record) -> bytes:
    """The encoded tail of a line without exception: the fields that rarely change."""
    key = (
        rec.logger_name,
        rec.source,
        rec.run_id,
        rec.hostname,
        rec.pid,
        rec.runtime,
        rec.app_id,
        rec.app_name,
        rec.job,
    )
    frag = _frag_cache.get(key)
    if frag is None:
        saved, rec.exception = rec.exception, None
        try:
            body = encoding.dumps(_static(rec))
        finally:
            rec.exception = saved
        frag = b"," + body[1:] + b"\n"
        if len(_frag_cache) > 4096:
            _frag_cache.clear()
        _frag_cache[key] = frag
    return frag


def encode_call(
    ts: float,
    level: str,
    level_no: int,
    msg: str,
    context: Mapping[str, str],
    record_id: str,
    thread_name: str,
    module: str | None,
    function: str | None,
    line: int | None,
    frag: bytes,
) -> bytes:
    """A complete spool line from the per-call fields and a `static_fragment`.

    Every value must be a primitive LakeTrace built (``msg`` from the message rule,
    ``context`` from `merge_context`): they go to the JSON backend as they are.
    """
    d = {
        "ts": iso_utc(ts),
        "level": level,
        "level_no": level_no,
        "msg": msg,
        "context": context,
        "record_id": record_id,
        "thread_name": thread_name,
        "module": module,
        "function": function,
        "line": line,
    }
    try:
        data = encoding.fast_dumps(d)  # looked up per call: set_backend() swaps it
    except Exception:
        data = encoding.dumps(d)
    return data[:-1] + frag


class RawCall(NamedTuple):
    """Call-time values of a plain driver record, encoded on the ``enqueue=True`` writer thread."""

    level: str
    level_no: int
    msg: str
    bound: Mapping[str, str]  # the logger's bound fields, already context-encoded
    fields: Mapping[str, Any]  # contextualized and call fields, as passed
    record_id: str
    ts: float
    module: str | None
    function: str | None
    line: int | None
    thread_name: str
    frag: bytes

    def encode(self) -> bytes:
        """The spool line; never raises (the writer thread encodes a batch at a time)."""
        try:
            context = merge_context(self.bound, self.fields)
        except Exception as exc:  # MemoryError: keep the record, say what is missing
            context = {UNRENDERABLE: '["context"]', "laketrace.error": safe_repr(exc)}
        return encode_call(
            self.ts,
            self.level,
            self.level_no,
            self.msg,
            context,
            self.record_id,
            self.thread_name,
            self.module,
            self.function,
            self.line,
            self.frag,
        )


def lake_line(rec: Record) -> bytes:
    """The spool line (lake record JSON + ``\\n``) for ``rec``; computed once per record.

    Never raises: a record whose attributes a filter or formatter replaced with values that
    cannot be encoded still gives one line (see `_fallback_line`).
    """
    line = rec._line
    if line is not None:
        return line
    try:
        line = _lake_line(rec)
    except Exception as exc:
        line = _fallback_line(rec, exc)
    rec._line = line
    return line


def _text(value: Any) -> str | None:
    return value if value is None or type(value) is str else safe_str(value)


def _lake_line(rec: Record) -> bytes:
    ctx = context_map(rec.extra) if rec.extra else {}
    if rec.exception is None:
        frag = rec._frag or static_fragment(rec)
    else:
        frag = b"," + encoding.dumps(_static(rec))[1:] + b"\n"
    line = rec.line
    return encode_call(
        rec.ts,
        safe_str(rec.level),
        rec.level_no if type(rec.level_no) is int else 0,
        _text(rec.message),  # type: ignore[arg-type]
        ctx,
        _text(rec.record_id),  # type: ignore[arg-type]
        _text(rec.thread_name),  # type: ignore[arg-type]
        _text(rec.module),
        _text(rec.function),
        line if line is None or type(line) is int else None,
        frag,
    )


def _fallback_line(rec: Record, exc: Exception) -> bytes:
    """One line from whatever attributes of ``rec`` can still be read, naming the failure."""
    out: dict[str, Any] = {}
    for name in CALL_FIELDS + STATIC_FIELDS:
        attr = _ATTRS.get(name, name)
        try:
            out[name] = getattr(rec, attr)
        except Exception:
            out[name] = None
    try:
        out["ts"] = iso_utc(float(rec.ts))
    except Exception:
        out["ts"] = iso_utc(time.time())
    out["exception"] = out["traceback"] = None
    try:
        ctx = dict(context_map(rec.extra)) if rec.extra else {}
    except Exception:
        ctx = {}
    ctx[UNRENDERABLE] = encoding.dumps_str(["record"])
    ctx["laketrace.error"] = unprintable(rec, exc)
    out["context"] = ctx
    return encoding.dumps(out) + b"\n"


_ATTRS = {"ts": "ts", "msg": "message", "host": "hostname", "logger": "logger_name"}
