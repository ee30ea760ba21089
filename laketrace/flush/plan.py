"""Planning a flush: which sealed files go out in which batch (Delta txn app id and
version), resuming batches a crash left planned but not committed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..spool._fs import make_private_dirs
from ..spool.ledger import TableState
from ..spool.names import (
    INTERNAL_DIR,
    foreign_files,
    list_spool,
    parse_spool_name,
    spool_stem,
    stamp_epoch,
)
from .prepare import FOREIGN_PREFIX, SpoolFile, locate

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Batch:
    """One Delta commit: its txn (app id, version), its files, and how to ship them."""

    app_id: str
    version: int
    files: list[SpoolFile]
    resumed: bool
    #: insert only record_ids the table does not hold yet (state was uncertain)
    idempotent: bool = False
    #: when it was planned (epoch ms): its commit, if any, is newer
    since_ms: int = 0
    #: re-run from a rebuilt ledger to confirm its quarantine rows only: files that are
    #: gone were shipped (and then deleted), not missing
    requeued: bool = False


@contextlib.contextmanager
def flush_lock(log_dir: str) -> Iterator[None]:
    """Serialise flushes of one spool directory across threads and processes."""
    internal = os.path.join(log_dir, INTERNAL_DIR)
    make_private_dirs(internal)
    fd = os.open(os.path.join(internal, "flush.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _order(path: str) -> tuple:
    n = parse_spool_name(os.path.basename(path))
    return n.order if n is not None else ("~", 0, 0)  # foreign files last


def _group(files: list[SpoolFile], batch_bytes: int) -> list[list[SpoolFile]]:
    out: list[list[SpoolFile]] = []
    cur: list[SpoolFile] = []
    size = 0
    for f in files:
        if cur and size + f.size > batch_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append(f)
        size += f.size
    if cur:
        out.append(cur)
    return out


def shippable(spool_dir: str) -> dict[str, str]:
    """Sealed spool files and foreign files of ``spool_dir`` by stem."""
    by_stem: dict[str, str] = {}
    for p, n in list_spool(spool_dir):
        if n.sealed:
            by_stem.setdefault(spool_stem(p), p)
    try:
        foreign = foreign_files(spool_dir)
    except OSError:
        foreign = []
    for p in foreign:
        by_stem.setdefault(FOREIGN_PREFIX + os.path.basename(p), p)
    return by_stem


def created_ms(stem: str, path: str | None) -> int:
    """The earliest time the file can have been shipped (its name's stamp, or its mtime)."""
    name = parse_spool_name(stem)
    if name is not None:
        return int(stamp_epoch(name.stamp) * 1000)
    try:
        return int(os.lstat(path).st_mtime * 1000) if path else 0
    except OSError:
        return 0


def _sized(spool_dir: str, stem: str, path: str) -> SpoolFile | None:
    for _ in range(3):  # moved by compression between listing and stat: follow it
        try:
            return SpoolFile(path, stem, os.lstat(path).st_size)
        except FileNotFoundError:
            found = locate(spool_dir, stem)
            if found is None or found == path:
                return None
            path = found
    return None


def plan(state: TableState, files: dict[str, str], spool_dir: str, batch_bytes: int) -> list[Batch]:
    """Batches to run: unfinished planned ones first (same files, same txn), then new ones."""
    assert state.app_id is not None
    work: list[Batch] = []
    taken: set[str] = set(state.shipped)
    for entry in state.pending:
        batch_files = []
        for f in entry.get("files", []):
            stem = f.get("stem") if isinstance(f, dict) else None
            if not isinstance(stem, str):
                continue
            path = files.get(stem) or os.path.join(spool_dir, stem)
            batch_files.append(SpoolFile(path, stem, int(f.get("size") or 0)))
            taken.add(stem)
        work.append(
            Batch(
                str(entry["app_id"]),
                int(entry["batch"]),
                batch_files,
                True,
                idempotent=bool(entry.get("idempotent")),
                since_ms=int(float(entry.get("at") or 0) * 1000),
                requeued=bool(entry.get("rebuilt")),
            )
        )
    fresh = []
    for stem, p in sorted(files.items(), key=lambda kv: _order(kv[1])):
        if stem not in taken:
            f = _sized(spool_dir, stem, p)
            if f is not None:
                fresh.append(f)
    last = state.last_batch
    for group in _group(fresh, batch_bytes):
        last += 1
        idem = any(f.stem in state.uncertain for f in group)
        work.append(Batch(state.app_id, last, group, False, idempotent=idem))
    return work
