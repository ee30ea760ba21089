"""Planning a flush: which sealed files go out in which batch (Delta txnVersion), resuming
batches a crash left planned but not committed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import FlushError
from ..spool._fs import make_private_dirs
from ..spool.ledger import Manifest
from ..spool.names import INTERNAL_DIR, foreign_files, list_spool, parse_spool_name, spool_stem
from .prepare import FOREIGN_PREFIX, SpoolFile

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Batch:
    """One Delta commit: its txnVersion, its files, and whether it resumes a planned batch."""

    version: int
    files: list[SpoolFile]
    resumed: bool


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
    for p in foreign_files(spool_dir):
        by_stem.setdefault(FOREIGN_PREFIX + os.path.basename(p), p)
    return by_stem


def plan(manifest: Manifest, target_key: str, spool_dir: str, batch_bytes: int) -> list[Batch]:
    """Batches to run: unfinished planned ones first (same files, same version), then new."""
    last, pending, shipped = manifest.state(target_key)
    by_stem = shippable(spool_dir)
    work: list[Batch] = []
    for entry in pending:
        files = []
        for f in entry.get("files", []):
            found = by_stem.get(f["stem"])
            if found is None:
                raise FlushError(
                    f"flush batch {entry['batch']} was planned with {f['stem']} but the file "
                    f"is gone from {spool_dir}; restore it or remove the batch from "
                    f"{manifest.path} after checking the table."
                )
            files.append(SpoolFile(found, f["stem"], f["size"]))
        work.append(Batch(int(entry["batch"]), files, True))
        shipped.update(f.stem for f in files)
    fresh = [
        SpoolFile(p, stem, os.path.getsize(p))
        for stem, p in sorted(by_stem.items(), key=lambda kv: _order(kv[1]))
        if stem not in shipped
    ]
    for group in _group(fresh, batch_bytes):
        last += 1
        work.append(Batch(last, group, False))
    return work
