"""Reading spool files back: the last N records, human-formatted (`log.tail`, `laketrace tail`)."""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import json
import lzma
import os
import sys
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from ._format import human_from_lake
from ._levels import parse_level
from ._spool import list_spool


def open_spool_file(path: str) -> IO[bytes]:
    """Open a spool file for reading, whatever its compression."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if path.endswith(".xz"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            return io.BytesIO(zf.read(names[0]) if names else b"")
    return open(path, "rb")


def iter_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """``(line_number, raw_line)`` pairs of one spool file (1-based)."""
    with open_spool_file(path) as fh:
        yield from enumerate(fh, 1)


def read_records(path: str) -> Iterator[dict[str, Any]]:
    """Parsed records of one spool file; unparseable lines (e.g. a torn tail) are skipped."""
    for _, raw in iter_lines(path):
        if not raw.endswith(b"\n"):
            break  # a line still being written
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def tail_records(
    log_dir: str,
    n: int = 50,
    *,
    logger: str | None = None,
    level: str | None = None,
    file: Any = None,
    color: bool | None = None,
    print_out: bool = True,
) -> list[dict[str, Any]]:
    """The last ``n`` records (optionally of one logger, at or above ``level``); prints them."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"tail: n must be a non-negative int, got {n!r}.")
    min_no = parse_level(level).no if level else 0
    want: collections.deque[dict[str, Any]] = collections.deque(maxlen=n or None)
    files = list_spool(log_dir, logger=logger)
    for path, _ in files:
        try:
            for rec in read_records(path):
                if logger is not None and rec.get("logger") != logger:
                    continue
                if (rec.get("level_no") or 0) >= min_no:
                    want.append(rec)
        except (OSError, EOFError):
            continue  # rotated or compressed under our feet; the rest is still useful
    out = list(want)[-n:] if n else []
    if print_out:
        stream = file or sys.stdout
        if color is None:
            try:
                color = stream.isatty() and "NO_COLOR" not in os.environ
            except Exception:
                color = False
        for rec in out:
            stream.write(human_from_lake(rec, color=bool(color)) + "\n")
    return out
