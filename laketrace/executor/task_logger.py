"""Loggers for code running inside a Spark task.

`TaskLogger` is what `get_logger` returns inside a task: a no-op that never creates files,
or (``executor_stderr=True``) one compact lake-shaped JSON line per record on the task's
stderr. Its messages and context follow the same rules as the driver's.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Protocol

from ..record import encoding
from ..record.encoder import context_map
from ..record.levels import LEVELS, Level, parse_level
from ..record.message import MISSING, format_message
from ..record.record import (
    bad_exc_info,
    bad_exc_info_text,
    exc_info_from,
    exception_struct,
    format_traceback,
    iso_utc,
    mask_exception,
)
from ..record.sanitize import safe_repr


class Masker(Protocol):
    """What executor-side loggers need of `laketrace.log.redact.Redactor` (handed to them)."""

    def __call__(self, text: str) -> str:
        """``text`` with secrets masked."""

    def mask_call(self, msg: str, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The message and fields of one call with secrets masked."""


def task_context() -> Any:
    """pyspark's `TaskContext` of the running task, or None (never imports pyspark)."""
    mod = sys.modules.get("pyspark.taskcontext")
    if mod is None:
        return None
    try:
        return mod.TaskContext.get()
    except Exception:
        return None


_errors = [0]


def contained(exc: BaseException) -> None:
    """Count an error of an executor-side log call; report the first on stderr, never raise."""
    _errors[0] += 1
    if _errors[0] == 1:
        try:
            sys.stderr.write(
                f"LakeTrace: an executor log call failed with {safe_repr(exc)}; the task keeps "
                "running. Further errors are counted silently.\n"
            )
        except Exception:
            pass


#: an exception as it travels from a task: Spark's ``{class, msg, stacktrace}`` struct and
#: the formatted traceback, both already masked when redaction is on
RenderedError = tuple[dict[str, Any], str]


def split_exception(
    fields: dict[str, Any], masker: Masker | None
) -> tuple[dict[str, Any], RenderedError | None]:
    """``fields`` without ``exc_info`` and the rendered exception it named (or None).

    The same rule as the driver: ``exc_info=True``, an exception or a ``sys.exc_info()``
    tuple fill the ``exception`` and ``traceback`` columns; anything else is kept as an
    ``exc_info`` field saying it was unusable. Never raises.
    """
    if "exc_info" not in fields:
        return fields, None
    fields = dict(fields)
    exc = fields.pop("exc_info")
    try:
        info = exc_info_from(exc)
        if info is None:
            if bad_exc_info(exc):
                fields["exc_info"] = bad_exc_info_text(exc)
            return fields, None
        if masker is not None:
            info = mask_exception(info, masker)
        return fields, (exception_struct(info), format_traceback(info))
    except Exception:  # a hostile exception must not cost the record
        fields["exc_info"] = "<unprintable exception>"
        return fields, None


class LevelMethods:
    """``trace``..``critical`` and ``exception`` for executor-side loggers (they implement
    ``_log``); each level method is exactly one frame above ``_log``."""

    __slots__ = ()

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    def trace(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["TRACE"], msg, a, f)

    def debug(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["DEBUG"], msg, a, f)

    def info(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["INFO"], msg, a, f)

    def success(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["SUCCESS"], msg, a, f)

    def warning(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["WARNING"], msg, a, f)

    def error(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["ERROR"], msg, a, f)

    def critical(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        self._log(LEVELS["CRITICAL"], msg, a, f)

    def exception(self, msg: Any = MISSING, /, *a: Any, **f: Any) -> None:
        f.setdefault("exc_info", True)  # the exception being handled, if any
        self._log(LEVELS["ERROR"], msg, a, f)


class TaskLogger(LevelMethods):
    """The logger `get_logger` returns inside a Spark task; never opens spool files."""

    __slots__ = ("_bound", "_level_no", "_redact", "_stderr", "name")

    def __init__(
        self,
        name: str,
        level_no: int,
        to_stderr: bool,
        bound: dict | None = None,
        *,
        redact: Masker | None = None,
    ) -> None:
        self.name = name
        self._level_no = level_no
        self._stderr = to_stderr
        self._bound = bound or {}
        self._redact = redact

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        if not self._stderr or level.no < self._level_no:
            return
        if msg is MISSING:
            msg = fields.pop("msg", "")
        try:
            tc = task_context()
            fields, error = split_exception(fields, self._redact)
            text = format_message(msg, args, fields)
            extra = {**self._bound, **fields}
            name = self.name
            if self._redact is not None:
                text, extra = self._redact.mask_call(text, extra)
                name = self._redact(name)
            rec = {
                "ts": iso_utc(time.time()),
                "level": str(level),
                "level_no": level.no,
                "logger": name,
                "msg": text,
                "context": context_map(extra),
                "source": "executor",
                "stage_id": tc.stageId() if tc else None,
                "partition_id": tc.partitionId() if tc else None,
                "task_attempt": tc.attemptNumber() if tc else None,
            }
            if error is not None:
                rec["exception"], rec["traceback"] = error
            sys.stderr.write(encoding.dumps_str(rec) + "\n")
        except Exception as exc:
            contained(exc)

    def bind(self, **fields: Any) -> TaskLogger:
        return TaskLogger(
            self.name,
            self._level_no,
            self._stderr,
            {**self._bound, **fields},
            redact=self._redact,
        )

    def contextualize(self, **fields: Any) -> Any:
        return contextlib.nullcontext()

    def add_handler(self, spec: Any) -> int:
        return 0

    def remove_handler(self, handler_id: int) -> None:
        pass

    def remove_all_handlers(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def tail(self, n: int = 50) -> list:
        return []

    def for_executors(self, **options: Any) -> TaskLogger:
        return self


def task_logger(name: str, config: Any, *, redact: Masker | None = None) -> TaskLogger:
    """The logger for ``name`` inside a Spark task (no files; stderr if configured).

    ``redact`` is the compiled ``redact`` config (the log package compiles it).
    """
    cfg = dict(config or {})
    level = parse_level(cfg.get("level", "INFO")).no
    return TaskLogger(name, level, bool(cfg.get("executor_stderr", False)), redact=redact)
