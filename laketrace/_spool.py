"""Spool file names, listing and the lake-line encoder.

Spool file names carry the logger name (made safe), the creation time, the run id, the
pid and a sequence number, so two processes never share a file and sealed names sort by
creation order::

    <logger>__<YYYYmmddTHHMMSSffffffZ>__<run_id>__<pid>__<seq>.jsonl          (active)
    <logger>__<YYYYmmddTHHMMSSffffffZ>__<run_id>__<pid>__<seq>.sealed.jsonl   (sealed)
    ...sealed.jsonl.gz | .bz2 | .xz | .zip                                    (compressed)
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from . import _encoding
from ._record import Record, context_map, exception_struct, format_traceback, iso_utc, lake_dict

ACTIVE_SUFFIX = ".jsonl"
SEALED_SUFFIX = ".sealed.jsonl"
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
INTERNAL_DIR = "_laketrace"  # manifest, quarantine, locks: hidden from spark.read.json(log_dir)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_RE = re.compile(
    r"^(?P<logger>.+?)__(?P<stamp>\d{8}T\d{12}Z)__(?P<run>.+?)__(?P<pid>\d+)__(?P<seq>\d+)"
    r"(?P<sealed>\.sealed)?\.jsonl(?P<comp>\.gz|\.bz2|\.xz|\.zip)?$"
)
_seq = itertools.count(1)


def safe_name(name: str, *, limit: int = 80) -> str:
    """A file-name-safe form of a logger name or run id: no separators, no ``..``."""
    s = _UNSAFE.sub("_", str(name))
    s = re.sub(r"_{2,}", "_", s)
    while ".." in s:
        s = s.replace("..", "_")
    s = s.strip("._-")[:limit]
    return s or "_"


@dataclass(frozen=True)
class SpoolName:
    """The parts of a spool file name."""

    logger: str
    stamp: str
    run_id: str
    pid: int
    seq: int
    sealed: bool
    compression: str | None

    @property
    def order(self) -> tuple[str, int, int]:
        return (self.stamp, self.pid, self.seq)


def parse_spool_name(filename: str) -> SpoolName | None:
    """Parse a spool file name; None for anything that is not a spool file."""
    m = _NAME_RE.match(filename)
    if not m:
        return None
    return SpoolName(
        logger=m.group("logger"),
        stamp=m.group("stamp"),
        run_id=m.group("run"),
        pid=int(m.group("pid")),
        seq=int(m.group("seq")),
        sealed=m.group("sealed") is not None,
        compression=(m.group("comp") or None) and m.group("comp")[1:],
    )


class SpoolNamer:
    """Names spool files for one logger in one process."""

    def __init__(self, log_dir: str, logger_name: str, run_id: str) -> None:
        self.log_dir = log_dir
        self.prefix = safe_name(logger_name)
        self.run = safe_name(run_id, limit=120)
        self._real_dir = os.path.realpath(log_dir)

    def active_path(self, opened_at: float) -> str:
        t = time.gmtime(opened_at)
        stamp = time.strftime("%Y%m%dT%H%M%S", t) + f"{int((opened_at % 1) * 1e6):06d}Z"
        name = f"{self.prefix}__{stamp}__{self.run}__{os.getpid()}__{next(_seq):06d}{ACTIVE_SUFFIX}"
        path = os.path.join(self.log_dir, name)
        if os.path.dirname(os.path.realpath(path)) != self._real_dir:  # defence in depth
            raise ValueError(f"spool path {path!r} would escape log_dir {self.log_dir!r}")
        return path

    def sealed_path(self, active: str, opened_at: float) -> str:
        return active[: -len(ACTIVE_SUFFIX)] + SEALED_SUFFIX


def list_spool(log_dir: str, *, logger: str | None = None) -> list[tuple[str, SpoolName]]:
    """Spool files in ``log_dir`` (optionally of one logger), oldest first."""
    prefix = safe_name(logger) + "__" if logger is not None else None
    out = []
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    for fn in names:
        if prefix is not None and not fn.startswith(prefix):
            continue
        parsed = parse_spool_name(fn)
        if parsed is not None:
            out.append((os.path.join(log_dir, fn), parsed))
    out.sort(key=lambda item: item[1].order)
    return out


_frag_cache: dict[tuple, bytes] = {}


def static_fragment(rec: Record) -> bytes:
    """The encoded tail of a lake line: the fields that rarely change between records."""
    key = (
        rec.logger_name,
        rec.source,
        rec.run_id,
        rec.hostname,
        rec.pid,
        rec.runtime,
        rec.app_id,
        rec.app_name,
        rec.spark,
    )
    frag = _frag_cache.get(key)
    if frag is None:
        spark = rec.spark or (None, None, None, None, None, None)
        body = _encoding.dumps(
            {
                "logger": rec.logger_name,
                "exception": None,
                "traceback": None,
                "source": rec.source,
                "run_id": rec.run_id,
                "host": rec.hostname,
                "pid": rec.pid,
                "runtime": rec.runtime,
                "app_id": rec.app_id,
                "app_name": rec.app_name,
                "job_id": spark[0],
                "stage_id": spark[1],
                "partition_id": spark[2],
                "task_attempt": spark[3],
                "job_group": spark[4],
                "notebook": spark[5],
            }
        )
        frag = b"," + body[1:] + b"\n"
        if len(_frag_cache) > 4096:
            _frag_cache.clear()
        _frag_cache[key] = frag
    return frag


def lake_line(rec: Record) -> bytes:
    """The spool line (lake record JSON + ``\\n``) for ``rec``; computed once per record."""
    line = rec._line
    if line is not None:
        return line
    ctx = context_map(rec.extra) if rec.extra else {}
    if rec.exception is None:
        frag = rec._frag or static_fragment(rec)
        dyn = _encoding.dumps(
            {
                "ts": iso_utc(rec.ts),
                "level": rec.level,
                "level_no": rec.level_no,
                "msg": rec.message,
                "context": ctx,
                "record_id": rec.record_id,
                "thread_name": rec.thread_name,
                "module": rec.module,
                "function": rec.function,
                "line": rec.line,
            }
        )
        line = dyn[:-1] + frag
    else:
        line = _encoding.dumps(lake_dict(rec, ctx)) + b"\n"
    rec._line = line
    return line


def lake_record(rec: Record) -> dict[str, Any]:
    """The lake record of ``rec`` as a dict (what one spool line decodes to)."""
    ctx = context_map(rec.extra) if rec.extra else {}
    return lake_dict(rec, ctx)


__all__ = [
    "exception_struct",
    "format_traceback",
    "lake_line",
    "lake_record",
    "list_spool",
    "parse_spool_name",
    "safe_name",
]
