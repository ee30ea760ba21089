"""Spool file names, time stamps and listing: what in a ``log_dir`` is whose, and in what order.

Spool file names carry the logger name (made safe), the creation time, the run id, the
pid and a sequence number, so two processes never share a file and sealed names sort by
creation order::

    <logger>__<YYYYmmddTHHMMSSffffffZ>__<run_id>__<pid>__<seq>.jsonl          (active)
    <logger>__<YYYYmmddTHHMMSSffffffZ>__<run_id>__<pid>__<seq>.sealed.jsonl   (sealed)
    ...sealed.jsonl.gz | .bz2 | .xz | .zip                                    (compressed)

``<logger>`` is the logger name itself when it is file-safe (``etl.daily``), else its safe
form plus ``~`` and a short hash of the real name (``a_b~3f2a91c0`` for ``"a b"``), so two
loggers never share file names and retention of one never touches the other's files.
Only regular files count: a symlink or a directory with a spool-like name is never listed.
"""

from __future__ import annotations

import calendar
import hashlib
import itertools
import os
import re
import time
from dataclasses import dataclass

ACTIVE_SUFFIX = ".jsonl"
SEALED_SUFFIX = ".sealed.jsonl"
#: the compression methods of sealed files; each adds "." + its name to the file name
COMPRESSIONS = ("gz", "bz2", "xz", "zip")
COMPRESSED_SUFFIXES = tuple("." + m for m in COMPRESSIONS)
INTERNAL_DIR = "_laketrace"  # manifest, quarantine, locks: hidden from spark.read.json(log_dir)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: a file-name time stamp: ``20261128T132420123456Z`` (UTC, microseconds)
STAMP_PATTERN = r"\d{8}T\d{12}Z"
#: alternatives matching a compression suffix, for file-name patterns
COMPRESSED_PATTERN = "|".join(map(re.escape, COMPRESSED_SUFFIXES))
_NAME_RE = re.compile(
    rf"^(?P<logger>.+?)__(?P<stamp>{STAMP_PATTERN})__(?P<run>.+?)__(?P<pid>\d+)__(?P<seq>\d+)"
    rf"(?P<sealed>\.sealed)?\.jsonl(?P<comp>{COMPRESSED_PATTERN})?$"
)
_seq = itertools.count(1)


def stamp(t: float) -> str:
    """Epoch seconds as a file-name time stamp (``20261128T132420123456Z``)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int((t % 1) * 1e6):06d}Z"


def stamp_epoch(text: str) -> float:
    """A file-name time stamp back to epoch seconds."""
    t = time.strptime(text[:15], "%Y%m%dT%H%M%S")
    return calendar.timegm(t) + int(text[15:21]) / 1e6


def spool_stem(filename: str) -> str:
    """A sealed spool file's identity, independent of later compression."""
    name = os.path.basename(filename)
    for ext in COMPRESSED_SUFFIXES:
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def safe_name(name: str, *, limit: int = 80) -> str:
    """A file-name-safe form of a logger name or run id: no separators, no ``..``."""
    s = _UNSAFE.sub("_", str(name))
    s = re.sub(r"_{2,}", "_", s)
    while ".." in s:
        s = s.replace("..", "_")
    s = s.strip("._-")[:limit]
    return s or "_"


def spool_prefix(logger_name: str) -> str:
    """The ``<logger>`` part of a logger's spool file names: unique per logger name.

    >>> spool_prefix("etl.daily"), spool_prefix("a b"), spool_prefix("a/b")
    ('etl.daily', 'a_b~c8687a08', 'a_b~c14cddc0')
    """
    name = str(logger_name)
    safe = safe_name(name)
    if safe == name and safe != "_":
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    # a prefix starting with "_" would hide the files from spark.read.json(log_dir)
    return f"{'logger' if safe == '_' else safe}~{digest}"


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
        self.prefix = spool_prefix(logger_name)
        self.run = safe_name(run_id, limit=120)
        for part in (self.prefix, self.run):  # defence in depth, checked once
            if os.sep in part or "/" in part or part in (".", ".."):
                raise ValueError(f"unsafe spool file name part {part!r}")

    def active_path(self, opened_at: float) -> str:
        """A new, unused active file name (a symlink there is never followed: `_fs`)."""
        name = (
            f"{self.prefix}__{stamp(opened_at)}__{self.run}__{os.getpid()}__{next(_seq):06d}"
            f"{ACTIVE_SUFFIX}"
        )
        return os.path.join(self.log_dir, name)

    def sealed_path(self, active: str, opened_at: float) -> str:
        return active[: -len(ACTIVE_SUFFIX)] + SEALED_SUFFIX


def _regular_files(log_dir: str) -> list[str]:
    """Names of the regular files in ``log_dir``: never symlinks, directories or devices."""
    out = []
    try:
        with os.scandir(log_dir) as it:
            for entry in it:
                try:
                    if entry.is_file(follow_symlinks=False):
                        out.append(entry.name)
                except OSError:
                    continue  # vanished while listed
    except (FileNotFoundError, NotADirectoryError):
        return []
    return out


def list_spool(log_dir: str, *, logger: str | None = None) -> list[tuple[str, SpoolName]]:
    """Spool files in ``log_dir`` (optionally of exactly one logger), oldest first.

    Only regular files: a symlink with a spool name is never listed (nor read, shipped or
    deleted through it).
    """
    prefix = spool_prefix(logger) if logger is not None else None
    out = []
    for fn in _regular_files(log_dir):
        parsed = parse_spool_name(fn)
        if parsed is not None and (prefix is None or parsed.logger == prefix):
            out.append((os.path.join(log_dir, fn), parsed))
    out.sort(key=lambda item: item[1].order)
    return out


def foreign_files(log_dir: str) -> list[str]:
    """Regular files in ``log_dir`` that are not spool files (hidden and ``_`` names aside).

    The flush step quarantines their lines once, so nothing dropped into the spool
    directory by mistake disappears silently. Symlinks are never returned.
    """
    out = []
    for fn in sorted(_regular_files(log_dir)):
        if fn.startswith((".", "_")) or parse_spool_name(fn) is not None:
            continue
        out.append(os.path.join(log_dir, fn))
    return out
