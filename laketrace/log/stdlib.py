"""Bridge from the standard `logging` module into LakeTrace (``source="stdlib"``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..record.levels import parse_level, stdlib_level
from ..record.message import append_args
from ..record.sanitize import safe_str
from .logger import LakeTraceLogger

_STD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_SEEN_ATTR = "_laketrace_seen"


class LakeTraceHandler(logging.Handler):
    """A `logging.Handler` that turns stdlib records into LakeTrace records."""

    def __init__(self, target: LakeTraceLogger, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        # one record propagating through two captured loggers is written once
        seen = getattr(record, _SEEN_ATTR, None)
        if seen is not None and self.target._core in seen:
            return
        try:
            if seen is None:
                seen = set()
                setattr(record, _SEEN_ATTR, seen)
            seen.add(self.target._core)
            core = self.target._core
            level = stdlib_level(record.levelno)
            if level.no < core.min_no:
                return
            extra = {
                k: v for k, v in vars(record).items() if k not in _STD_ATTRS and k != _SEEN_ATTR
            }
            if self.target._bound:
                extra = {**self.target._bound, **extra}
            rec = core.make_record(
                level,
                _message(record),
                extra=extra,
                exc=record.exc_info if record.exc_info else None,
                ts=record.created,
                logger_name=record.name,
                source="stdlib",
                module=record.module,
                function=record.funcName,
                line=record.lineno,
                file=record.pathname,
                thread_id=record.thread,
                thread_name=record.threadName,
            )
            core.dispatch(rec)
        except Exception:
            self.handleError(record)


def _message(record: logging.LogRecord) -> str:
    """``record.getMessage()``; when its ``%`` formatting raises, the message as written
    with the args appended (the driver's rule for a message that is not a template)."""
    try:
        msg = record.getMessage()
        return msg if type(msg) is str else safe_str(msg)
    except Exception:
        args = record.args
        if isinstance(args, Mapping):
            args = (args,)
        elif not isinstance(args, tuple):
            args = () if args is None else (args,)
        return append_args(safe_str(record.msg), args)


class StdlibCapture:
    """Handle returned by `capture_stdlib`; ``.uninstall()`` restores the loggers."""

    def __init__(
        self, handler: LakeTraceHandler, loggers: list[logging.Logger], old_levels: dict[str, int]
    ) -> None:
        self.handler = handler
        self.loggers = loggers
        self._old_levels = old_levels

    def uninstall(self) -> None:
        with _lock:
            for lg in self.loggers:
                lg.removeHandler(self.handler)
                if lg.name in self._old_levels:
                    lg.setLevel(self._old_levels[lg.name])
            _installed.pop(id(self.target_core), None)

    @property
    def target_core(self) -> Any:
        return self.handler.target._core


_lock = threading.Lock()
_installed: dict[int, StdlibCapture] = {}


def capture_stdlib(
    logger: LakeTraceLogger,
    level: str | int = "INFO",
    loggers: Iterable[str | logging.Logger] | None = None,
) -> StdlibCapture:
    """Route records of the named stdlib loggers into ``logger`` with ``source="stdlib"``.

    ``loggers`` are names (``"py4j"``, ``"pyspark"``, your app's) or `logging.Logger`
    objects; ``None`` or ``[""]`` means the root logger. Their level is lowered to ``level``
    if needed (restored by ``uninstall``). Calling it again for the same LakeTrace logger
    replaces the previous capture, so a re-run notebook cell does not duplicate records.

    >>> import logging, laketrace
    >>> log = laketrace.get_logger("doc", {"log_dir": "/tmp/lt-doc", "stdout": False})
    >>> cap = laketrace.capture_stdlib(log, level="INFO", loggers=["my_app"])
    >>> logging.getLogger("my_app").info("hello from stdlib")
    >>> cap.uninstall()
    """
    lvl = parse_level(level)
    std_level = {5: 5, 10: 10, 20: 20, 25: 25, 30: 30, 40: 40, 50: 50}[lvl.no]
    names = list(loggers) if loggers is not None else [""]
    targets = [n if isinstance(n, logging.Logger) else logging.getLogger(n or None) for n in names]
    with _lock:
        old = _installed.pop(id(logger._core), None)
    if old is not None:
        old.uninstall()
    handler = LakeTraceHandler(logger, std_level)
    old_levels: dict[str, int] = {}
    for lg in targets:
        if lg.getEffectiveLevel() > std_level or lg.level == logging.NOTSET:
            old_levels[lg.name] = lg.level
            lg.setLevel(std_level)
        lg.addHandler(handler)
    cap = StdlibCapture(handler, targets, old_levels)
    with _lock:
        _installed[id(logger._core)] = cap
    return cap
