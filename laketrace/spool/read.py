"""Reading spool files back, whatever their compression (tail, follow, flush, tests)."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import zipfile
from collections.abc import Iterator
from typing import IO, Any


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
