"""The record handed to filters, formatters and sinks, its Spark job context and exception."""

from __future__ import annotations

import datetime as _dt
import sys
import time
import traceback as _tb
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple, TypeGuard

from .levels import Level
from .sanitize import Unrenderable, safe_repr, safe_str, type_name

_UTC = _dt.timezone.utc


class JobContext(NamedTuple):
    """The Spark job, stage and task a record was logged in (``None`` where unknown)."""

    job_id: int | None = None
    stage_id: int | None = None
    partition_id: int | None = None
    task_attempt: int | None = None
    job_group: str | None = None
    notebook: str | None = None


NO_JOB = JobContext()


class ExceptionInfo(NamedTuple):
    """``(type, value, traceback)`` of the exception attached to a record.

    ``value`` is the exception instance. As in LakeTrace 1.x, where ``record.exception`` was
    the instance itself, ``str(record.exception)`` is the exception's message and its
    attributes (``.args``, ``.__traceback__``, your own) read through; for ``isinstance``
    use ``record.exception.value`` (or ``issubclass(record.exception.type, ...)``).
    """

    type: type[BaseException]
    value: BaseException
    traceback: TracebackType | None

    def __str__(self) -> str:
        try:
            return str(self.value)
        except Exception:
            return f"<unprintable {getattr(self.type, '__name__', 'exception')}>"

    def __getattr__(self, name: str) -> Any:
        # only called for names the tuple lacks: the exception's own attributes
        if name.startswith("__") and name.endswith("__") and name != "__traceback__":
            raise AttributeError(name)
        return getattr(tuple.__getitem__(self, 1), name)


def exc_info_from(value: object) -> ExceptionInfo | None:
    """Normalise ``exc_info=`` arguments: True, an exception, or a ``sys.exc_info()`` tuple.

    Anything else (``(1, 2, 3)``, a string) gives None; see `bad_exc_info`. Only the real
    type of ``value`` is inspected, so a hostile ``__class__`` cannot raise here.
    """
    if value is None or value is False:
        return None
    if type(value) is ExceptionInfo:  # ours (e.g. a rendered exception Spark reported)
        return value
    if value is True:
        value = sys.exc_info()[1]
    elif type(value) is tuple and len(value) == 3:
        ev, tb = value[1], value[2]
        if not _is_exception(ev):
            return None
        if type(tb) is not TracebackType:
            tb = ev.__traceback__
        return ExceptionInfo(type(ev), ev, tb)
    if _is_exception(value):
        return ExceptionInfo(type(value), value, value.__traceback__)
    return None


def _is_exception(value: object) -> TypeGuard[BaseException]:
    return issubclass(type(value), BaseException)


def bad_exc_info(value: object) -> bool:
    """True when ``exc_info=value`` is neither empty, True, an exception, nor a
    ``sys.exc_info()``-style tuple (``(None, None, None)`` counts as empty)."""
    if value is None or value is False or value is True or _is_exception(value):
        return False
    if type(value) is tuple and len(value) == 3:
        return not (value[1] is None or _is_exception(value[1]))
    return True


def bad_exc_info_text(value: object) -> Unrenderable:
    """The ``exc_info`` field of a record whose ``exc_info=`` was unusable (`bad_exc_info`)."""
    return Unrenderable(
        f"<unprintable {type_name(value)}: exc_info must be True, an exception or a "
        f"sys.exc_info() tuple, got {safe_repr(value)}>"
    )


_DIGITS = tuple(f"{i:03d}" for i in range(1000))
#: the text up to the millisecond of the last formatted time: [epoch ms, "…T13:20:00.123"]
_iso_ms: list[Any] = [None, ""]


def iso_utc(t: float) -> str:
    """Epoch seconds as ISO-8601 UTC with microseconds and ``Z`` (the spool's ``ts``).

    A plain function with the text up to the millisecond cached: it runs once per log call.

    >>> iso_utc(1764336000.25)
    '2025-11-28T13:20:00.250000Z'
    """
    us = int(t * 1_000_000 + 0.5)
    ms = us // 1000
    cache = _iso_ms
    if ms != cache[0]:
        sec = ms // 1000
        cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec)) + _DIGITS[ms - sec * 1000]
        cache[0] = ms
    return cache[1] + _DIGITS[us % 1000] + "Z"


class Record:
    """One log event as filters, formatters and callable sinks see it.

    ``level`` compares equal to its name (``record.level == "ERROR"``) and has ``.no``;
    ``name`` is an alias of ``logger_name``; ``timestamp`` is an aware UTC datetime;
    ``extra`` holds bound, contextualized and call fields with their original values.

    With ``redact`` on, filters and formatters see the masked record: ``message``,
    ``logger_name`` and ``thread_name`` masked; in ``extra`` a secret-named field is
    ``"***"``, a dict or list holding secret-named keys is a masked copy, and any other value
    a pattern changed is its masked text; ``exception`` is
    ``(original class, RenderedException, None)``, whose value formats as the original did,
    masked, and ``traceback_text()`` is the masked traceback.
    """

    __slots__ = (
        "__weakref__",
        "_frag",
        "_line",
        "app_id",
        "app_name",
        "exception",
        "extra",
        "file",
        "function",
        "hostname",
        "job",
        "level",
        "level_no",
        "line",
        "logger_name",
        "message",
        "module",
        "pid",
        "record_id",
        "run_id",
        "runtime",
        "source",
        "thread_id",
        "thread_name",
        "ts",
    )

    ts: float
    level: Level
    level_no: int
    message: str
    logger_name: str
    extra: dict[str, Any]
    exception: ExceptionInfo | None
    thread_id: int
    thread_name: str
    pid: int
    hostname: str
    module: str | None
    function: str | None
    line: int | None
    file: str | None
    source: str
    record_id: str
    run_id: str
    runtime: str
    app_id: str | None
    app_name: str | None
    job: JobContext | None
    _line: bytes | None
    _frag: bytes | None

    @property
    def name(self) -> str:
        """Alias of `logger_name`."""
        return self.logger_name

    @property
    def process_id(self) -> int:
        """Alias of `pid` (LakeTrace 1.x's name)."""
        return self.pid

    @property
    def timestamp(self) -> _dt.datetime:
        """Event time as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.ts, _UTC)

    @property
    def time_iso(self) -> str:
        """Event time as ISO-8601 UTC with microseconds and ``Z``."""
        return iso_utc(self.ts)

    @property
    def job_id(self) -> int | None:
        return self.job.job_id if self.job else None

    @property
    def stage_id(self) -> int | None:
        return self.job.stage_id if self.job else None

    @property
    def partition_id(self) -> int | None:
        return self.job.partition_id if self.job else None

    @property
    def task_attempt(self) -> int | None:
        return self.job.task_attempt if self.job else None

    @property
    def job_group(self) -> str | None:
        return self.job.job_group if self.job else None

    @property
    def notebook(self) -> str | None:
        return self.job.notebook if self.job else None

    def traceback_text(self) -> str | None:
        """The formatted Python traceback, or None without an exception."""
        if self.exception is None:
            return None
        return format_traceback(self.exception)

    def __repr__(self) -> str:
        text = safe_str(self.message)[:60]
        return f"<Record {self.level} {self.logger_name!r} {text!r} extra={safe_repr(self.extra)}>"


def format_traceback(info: ExceptionInfo) -> str:
    """The formatted Python traceback of ``info``; never raises."""
    if isinstance(info.value, RenderedException):
        return info.value.text
    try:
        return "".join(_tb.format_exception(info.type, info.value, info.traceback)).rstrip("\n")
    except Exception:  # a broken __str__ or class attribute on the exception
        return f"{_class_name(info.type)}: <unprintable exception>"


def _class_name(etype: Any) -> str:
    try:
        module = getattr(etype, "__module__", None)
        qual = getattr(etype, "__qualname__", None) or getattr(etype, "__name__", "Exception")
        name = safe_str(qual)
        return name if module in (None, "builtins") else f"{safe_str(module)}.{name}"
    except Exception:
        return type_name(etype)


def exception_struct(info: ExceptionInfo) -> dict[str, Any]:
    """The exception in Spark's structured-log shape: ``{class, msg, stacktrace[...]}``."""
    if isinstance(info.value, RenderedException):
        return info.value.struct_copy()
    try:
        msg: str | None = safe_str(info.value)
    except Exception:
        msg = "<unprintable exception>"
    frames: list[dict[str, Any]] = []
    tb = info.traceback
    while tb is not None and len(frames) < 10_000:
        frame = tb.tb_frame
        code = frame.f_code
        frames.append(
            {
                "class": frame.f_globals.get("__name__"),
                "method": code.co_name,
                "file": code.co_filename,
                "line": str(tb.tb_lineno),
            }
        )
        tb = tb.tb_next
    return {"class": _class_name(info.type), "msg": msg, "stacktrace": frames}


class RenderedException(Exception):
    """An exception known only by its rendering: ``record.exception.value`` when redaction
    is on (the rendering is masked), and of listener records for failures Spark reported.

    ``str()`` is the masked message; ``.struct`` and ``.text`` are the masked ``exception``
    struct and ``traceback`` text the sinks write. Its class carries the original class's
    name and module, so ``type(value).__name__`` and ``traceback.format_exception`` read as
    before; the original class is ``record.exception.type``.
    """

    def __init__(self, message: str, struct: dict[str, Any], text: str) -> None:
        super().__init__(message)
        self.struct = struct
        self.text = text

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def struct_copy(self) -> dict[str, Any]:
        s = self.struct
        return {**s, "stacktrace": [dict(f) for f in s.get("stacktrace") or ()]}

    def __reduce__(self) -> tuple:
        cls = type(self)
        return (
            _rebuild_rendered,
            (cls.__module__, cls.__qualname__, str(self), self.struct, self.text),
        )


_rendered_types: dict[tuple[str, str], type[RenderedException]] = {}


def _rendered_type(module: str, qualname: str) -> type[RenderedException]:
    cls = _rendered_types.get((module, qualname))
    if cls is None:
        name = qualname.rsplit(".", 1)[-1]
        attrs = {"__module__": module, "__qualname__": qualname}
        cls = type(name, (RenderedException,), attrs)
        if len(_rendered_types) < 1024:
            _rendered_types[(module, qualname)] = cls
    return cls


def _rebuild_rendered(
    module: str, qualname: str, msg: str, struct: dict[str, Any], text: str
) -> RenderedException:
    return _rendered_type(module, qualname)(msg, struct, text)


def mask_exception(info: ExceptionInfo, mask: Callable[[str], str]) -> ExceptionInfo:
    """``info`` rendered once (class, message, frames, traceback text) with ``mask`` applied.

    The result holds no frames (so no locals) and no original exception: only the type and a
    `RenderedException` carrying the masked rendering, which `format_traceback` and
    `exception_struct` return as they are.
    """
    try:
        struct = exception_struct(info)
        text = mask(format_traceback(info))
        frames = [
            {k: mask(v) if isinstance(v, str) else v for k, v in f.items()}
            for f in struct["stacktrace"]
        ]
        msg = mask(struct["msg"]) if isinstance(struct["msg"], str) else ""
        masked = {"class": mask(struct["class"]), "msg": msg, "stacktrace": frames}
    except Exception:  # a hostile exception must not cost the record
        msg = "<unprintable exception>"
        masked = {"class": "Exception", "msg": msg, "stacktrace": []}
        text = "Exception: <unprintable exception>"
    etype = info.type if isinstance(info.type, type) else type(info.value)
    module = getattr(etype, "__module__", None) or "builtins"
    qual = getattr(etype, "__qualname__", None) or "Exception"
    value = _rendered_type(str(module), str(qual))(msg, masked, text)
    return ExceptionInfo(etype, value, None)


def rendered_exception(struct: dict[str, Any], text: str | None) -> ExceptionInfo:
    """An `ExceptionInfo` for an exception that exists only as text (e.g. a failure Spark
    reported): ``struct`` is Spark's ``{class, msg, stacktrace}``, ``text`` the traceback."""
    cls = str(struct.get("class") or "Exception")
    module, _, qual = cls.rpartition(".")
    value = _rendered_type(module or "builtins", qual)(struct.get("msg") or "", struct, text or "")
    return ExceptionInfo(type(value), value, None)
