"""Helpers for asserting on your own logging in tests.

>>> from laketrace import get_logger
>>> from laketrace.testing import capture_records
>>> log = get_logger("doc", {"log_dir": "/tmp/lt-doc", "stdout": False})
>>> with capture_records() as records:
...     log.warning("disk almost full", pct=93)
>>> records[0].level == "WARNING", records[0].extra["pct"]
(True, 93)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .log.registry import add_capture, remove_capture
from .read.query import delta_dataset
from .record.levels import parse_level
from .record.record import Record
from .sinks.handlers import Handler
from .sinks.options import HandlerOptions


class _CaptureHandler(Handler):
    kind = "capture"

    def __init__(self, level: str) -> None:
        super().__init__(-1, HandlerOptions(level=parse_level(level), catch=False), "capture")
        self.records: list[Record] = []

    def emit(self, rec: Record) -> None:
        self.records.append(rec)


@contextmanager
def capture_records(level: str = "TRACE") -> Iterator[list[Record]]:
    """Collect every record any LakeTrace logger emits inside the block (at ``level`` or above).

    Records still go to the loggers' own handlers too.
    """
    handler = _CaptureHandler(level)
    add_capture(handler)
    try:
        yield handler.records
    finally:
        remove_capture(handler)


def read_delta(path: str, columns: Sequence[str] | None = None) -> Any:
    """Read a local log table into a pyarrow Table (needs ``laketrace[delta]``).

    Prefer this to ``DeltaTable(path).to_pyarrow_table()`` in short scripts: that call can
    abort the process at interpreter exit (a pyarrow bug, see ``laketrace.read.query``).
    """
    return delta_dataset(path).to_table(columns=list(columns) if columns else None)
