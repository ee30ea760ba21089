"""What `get_logger` returns inside a Spark task: a logger that never opens spool files."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import _encoding
from ._levels import LEVELS, parse_level


class TaskLogger:
    """No-op logger for code running in Spark tasks; with ``executor_stderr=True`` it
    writes compact one-line JSON records to the task's stderr (visible in the Spark UI)."""

    def __init__(self, name: str, level_no: int, to_stderr: bool, bound: dict | None = None):
        self.name = name
        self._level_no = level_no
        self._stderr = to_stderr
        self._bound = bound or {}

    def _log(self, level: str, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        if not self._stderr or LEVELS[level].no < self._level_no:
            return
        text = str(msg)
        if args:
            try:
                text = text.format(*args, **fields)
            except Exception:
                pass
        rec = {
            "ts": time.time(),
            "level": level,
            "logger": self.name,
            "msg": text,
            "context": {**self._bound, **fields},
            "source": "executor",
        }
        try:
            sys.stderr.write(_encoding.dumps_str(rec) + "\n")
        except Exception:
            pass

    def trace(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("TRACE", msg, a, f)

    def debug(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("DEBUG", msg, a, f)

    def info(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("INFO", msg, a, f)

    def success(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("SUCCESS", msg, a, f)

    def warning(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("WARNING", msg, a, f)

    def error(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("ERROR", msg, a, f)

    def critical(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log("CRITICAL", msg, a, f)

    def exception(self, msg: Any, *a: Any, **f: Any) -> None:
        import traceback

        f.setdefault("traceback", traceback.format_exc())
        self._log("ERROR", msg, a, f)

    def bind(self, **fields: Any) -> TaskLogger:
        return TaskLogger(self.name, self._level_no, self._stderr, {**self._bound, **fields})

    @contextmanager
    def contextualize(self, **fields: Any) -> Iterator[None]:
        yield

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


def task_logger(name: str, config: Mapping[str, Any] | None) -> TaskLogger:
    cfg = dict(config or {})
    level = parse_level(cfg.get("level", "INFO")).no
    return TaskLogger(name, level, bool(cfg.get("executor_stderr", False)))
