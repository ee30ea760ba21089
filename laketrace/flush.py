"""The flush step: ship sealed spool files into a Delta table exactly once.

Protocol, per batch of sealed files (at most ``batch_bytes`` each):

1. append ``planned`` (batch number V, its files and sizes) to the spool's manifest
   (``<log_dir>/_laketrace/manifest.jsonl``, fsynced);
2. write the batch's bad lines to the quarantine table with Delta txn (``<app>:q``, V);
3. append the good lines to the target with Delta txn (``<app>``, V);
4. append ``committed`` to the manifest.

A crash anywhere leaves a ``planned`` batch without ``committed``; the next flush re-runs
exactly that batch with the same V, and Delta's transaction ids turn the part that had
already been committed into a no-op (Spark skips it by itself; with delta-rs the table's
recorded version for the app id is checked first). So every record ends up in the table
exactly once.

>>> from laketrace import flush_to_delta
>>> result = flush_to_delta(log_dir="/tmp/lt-doc", path="/tmp/lt-doc-table")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import runtime as _runtime
from ._config import default_log_dir
from ._errors import ConfigError, LakeTraceError
from ._manifest import Manifest, spool_id, spool_stem
from ._recover import recover
from ._spool import INTERNAL_DIR, list_spool
from ._tail import open_spool_file
from ._validate import RAW_LIMIT, validate_line
from .targets import Target, resolve_target

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# per Delta commit: Spark parallelises large batches well; delta-rs holds a batch in memory
DEFAULT_BATCH_BYTES = {"spark": 1024 * 1024 * 1024, "delta-rs": 128 * 1024 * 1024}
TABLE_DESCRIPTION = (
    "LakeTrace logs (schema v1): one row per log record from drivers, executors, the Spark "
    "listener and stdlib logging. Columns: laketrace.schema."
)
# appendOnly stays off so `laketrace vacuum` (retention deletes) remains possible
TABLE_PROPERTIES = {"delta.appendOnly": "false"}

#: test hook called with "before_commit", "during_quarantine" and "after_commit"
fault_hook: Callable[[str], None] | None = None


class FlushError(LakeTraceError):
    """The flush could not complete; nothing that was already committed is lost."""


class SchemaMismatchError(FlushError):
    """The target table exists with other columns; nothing was written."""


def check_columns(location: str, want: dict[str, str], have: dict[str, str], fix: str) -> None:
    """Raise `SchemaMismatchError` naming missing, unexpected and retyped columns."""
    if want == have:
        return
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    raise SchemaMismatchError(
        f"the Delta table {location} exists with a different schema; nothing was written. "
        f"Missing columns: {missing or 'none'}; unexpected columns: {extra or 'none'}; "
        f"different types: {[f'{k}: {have[k]} (expected {want[k]})' for k in changed] or 'none'}. "
        f"{fix}"
    )


@dataclass
class FlushResult:
    """What one flush shipped."""

    files: int = 0
    records: int = 0
    quarantined: int = 0
    bytes: int = 0
    seconds: float = 0.0
    table_version: int | None = None
    batches: int = 0
    skipped_batches: int = 0
    target: str = ""
    writer: str = ""
    recovered: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"flushed {self.records:,} records from {self.files} file(s) "
            f"({self.bytes / 1e6:.1f} MB) in {self.batches} batch(es) to {self.target} "
            f"with {self.writer} in {self.seconds:.1f}s; quarantined {self.quarantined}; "
            f"table version {self.table_version}"
        )


@dataclass(frozen=True)
class SpoolFile:
    """A sealed spool file chosen for a batch."""

    path: str
    stem: str
    size: int


@dataclass
class QuarantineRow:
    """One line the flush step did not accept."""

    source_file: str
    line_no: int
    reason: str
    raw_line: str


@dataclass
class Prepared:
    """A batch made ready for a writer: readable clean files plus quarantined lines."""

    version: int
    readable: list[str]
    quarantine: list[QuarantineRow]
    ingested_at: _dt.datetime


@dataclass
class Outcome:
    """What a writer did with one batch."""

    records: int
    table_version: int | None
    skipped: bool
    quarantined: int = 0


def _fault(point: str) -> None:
    if fault_hook is not None:
        fault_hook(point)
    if os.environ.get("LAKETRACE_FAULT") == point:
        os._exit(77)  # simulate the process dying right here


@contextlib.contextmanager
def flush_lock(log_dir: str) -> Iterator[None]:
    """Serialise flushes of one spool directory across threads and processes."""
    internal = os.path.join(log_dir, INTERNAL_DIR)
    os.makedirs(internal, exist_ok=True)
    fd = os.open(os.path.join(internal, "flush.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def split_file(path: str, out_dir: str) -> tuple[str, list[QuarantineRow], int]:
    """Validate every line of ``path``; write the good ones to ``out_dir``.

    Returns ``(clean_path, quarantined_rows, good_count)``.
    """
    os.makedirs(out_dir, exist_ok=True)
    clean = os.path.join(out_dir, spool_stem(path))
    if not clean.endswith(".jsonl"):
        clean += ".jsonl"
    bad: list[QuarantineRow] = []
    good = 0
    with open_spool_file(path) as src, open(clean, "wb") as dst:
        for n, raw in enumerate(src, 1):
            if not raw.strip():
                continue
            reason = validate_line(raw)
            if reason is None:
                dst.write(raw)
                good += 1
            else:
                text = raw[:RAW_LIMIT].decode("utf-8", "replace").rstrip("\n")
                bad.append(QuarantineRow(os.path.basename(path), n, reason, text))
    return clean, bad, good


def _materialize(path: str, out_dir: str, supported: tuple[str, ...]) -> str:
    """``path`` if the reader handles its compression, else a decompressed copy."""
    name = os.path.basename(path)
    if not name.endswith((".gz", ".bz2", ".xz", ".zip")) or name.endswith(supported):
        return path
    os.makedirs(out_dir, exist_ok=True)
    dest = os.path.join(out_dir, spool_stem(path))
    with open_spool_file(path) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return dest


class _Progress:
    def __init__(self, progress: Any) -> None:
        if progress is True:
            self.fn: Callable[[dict], None] | None = _print_progress
        elif callable(progress):
            self.fn = progress
        else:
            self.fn = None

    def __call__(self, **info: Any) -> None:
        if self.fn is not None:
            self.fn(info)


def _print_progress(info: dict) -> None:
    if info.get("event") == "batch":
        print(
            f"[laketrace flush] batch {info['index']}/{info['total']}: {info['files']} file(s), "
            f"{info['records']:,} records, {info['quarantined']} quarantined"
            f"{' (already committed)' if info.get('skipped') else ''}",
            file=sys.stderr,
        )


def _batches(files: list[SpoolFile], batch_bytes: int) -> list[list[SpoolFile]]:
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


def _choose_writer(spark: Any, target: Target) -> Any:
    if spark is not None:
        from ._writer_spark import SparkWriter

        return SparkWriter(spark, target)
    if target.kind == "table" or target.local_path is None:
        raise ConfigError(
            f"flush target {target.display} needs Spark (no local path reaches it): pass a "
            "SparkSession as the first argument of flush_to_delta."
        )
    from ._writer_rs import DeltaRsWriter

    return DeltaRsWriter(target)


def flush_to_delta(
    spark: Any = None,
    *,
    log_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    table: str | None = None,
    batch_bytes: int | None = None,
    quarantine: str | None = None,
    partition_by: str | None = "date",
    progress: Any = None,
) -> FlushResult:
    """Ship every sealed spool file in ``log_dir`` into the Delta target, exactly once.

    With a SparkSession the Spark + delta-spark writer is used (any target); without
    one, delta-rs writes path targets (``pip install 'laketrace[delta]'``). Each batch of
    at most ``batch_bytes`` of spool files is one Delta commit (default 1 GiB with Spark,
    128 MiB with delta-rs, which holds a batch in memory). Bad lines go
    to the quarantine table (``<target>_quarantine`` unless ``quarantine=`` names
    another) and are counted in the result. ``partition_by=None`` creates an
    unpartitioned table. ``progress=True`` prints one line per batch on stderr (or pass
    a callable that receives a dict per event).
    """
    t0 = time.monotonic()
    if batch_bytes is not None and (not isinstance(batch_bytes, int) or batch_bytes < 1):
        raise ConfigError(
            f"flush_to_delta: batch_bytes must be a positive int, got {batch_bytes!r}."
        )
    if partition_by not in (None, "date"):
        raise ConfigError(
            f"flush_to_delta: partition_by must be 'date' or None, got {partition_by!r}."
        )
    rt = _runtime.detect_runtime()
    spool_dir = os.path.abspath(os.fspath(log_dir)) if log_dir else default_log_dir(rt)
    if not os.path.isdir(spool_dir):
        raise ConfigError(
            f"flush_to_delta: log_dir {spool_dir!r} does not exist. Pass the log_dir your "
            "loggers write to (get_logger(..., {'log_dir': ...}))."
        )
    target = resolve_target(path=path, table=table, runtime=rt, has_spark=spark is not None)
    if quarantine is not None:
        target = Target(
            target.kind,
            target.location,
            target.local_path,
            quarantine,
            target.display,
            target.remote,
        )
    writer = _choose_writer(spark, target)
    if batch_bytes is None:
        batch_bytes = DEFAULT_BATCH_BYTES[writer.name]
    report = _Progress(progress)
    result = FlushResult(target=target.display, writer=writer.name)
    with flush_lock(spool_dir):
        result.recovered = recover(spool_dir).sealed
        manifest = Manifest(spool_dir)
        app_id = f"laketrace-{spool_id(spool_dir)}-{target.key}"
        last, pending, shipped = manifest.state(target.key)
        by_stem: dict[str, str] = {}
        for p, n in list_spool(spool_dir):
            if n.sealed:
                by_stem.setdefault(spool_stem(p), p)
        for p in foreign_files(spool_dir):
            by_stem.setdefault(FOREIGN_PREFIX + os.path.basename(p), p)
        work: list[tuple[int, list[SpoolFile], bool]] = []
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
            work.append((int(entry["batch"]), files, True))
            shipped.update(f.stem for f in files)
        fresh = [
            SpoolFile(p, stem, os.path.getsize(p))
            for stem, p in sorted(by_stem.items(), key=lambda kv: _order(kv[1]))
            if stem not in shipped
        ]
        version = last
        for group in _batches(fresh, batch_bytes):
            version += 1
            work.append((version, group, False))
        if not work:
            result.seconds = time.monotonic() - t0
            result.table_version = writer.table_version() if writer.exists() else None
            return result
        writer.ensure_tables(partition_by)
        for index, (v, files, redo) in enumerate(work, 1):
            if not redo:
                manifest.append(
                    {
                        "event": "planned",
                        "batch": v,
                        "target": target.key,
                        "app_id": app_id,
                        "files": [{"stem": f.stem, "size": f.size} for f in files],
                        "at": time.time(),
                    }
                )
            _fault("before_commit")
            staging = os.path.join(spool_dir, INTERNAL_DIR, "staging", f"batch-{v}")
            try:
                prepared = _prepare(writer, v, files, staging)
                outcome = writer.write_batch(prepared, app_id)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _fault("after_commit")
            manifest.append(
                {
                    "event": "committed",
                    "batch": v,
                    "target": target.key,
                    "records": outcome.records,
                    "quarantined": outcome.quarantined,
                    "table_version": outcome.table_version,
                    "skipped": outcome.skipped,
                    "at": time.time(),
                }
            )
            result.batches += 1
            result.files += len(files)
            result.bytes += sum(f.size for f in files)
            result.records += 0 if outcome.skipped else outcome.records
            result.quarantined += outcome.quarantined
            result.skipped_batches += outcome.skipped
            result.table_version = outcome.table_version
            report(
                event="batch",
                index=index,
                total=len(work),
                files=len(files),
                records=outcome.records,
                quarantined=outcome.quarantined,
                skipped=outcome.skipped,
            )
    result.seconds = time.monotonic() - t0
    return result


def _order(path: str) -> tuple:
    from ._spool import parse_spool_name

    n = parse_spool_name(os.path.basename(path))
    return n.order if n is not None else ("~", 0, 0)  # foreign files last


FOREIGN_PREFIX = "foreign:"


def foreign_files(log_dir: str) -> list[str]:
    """Regular files in ``log_dir`` that are not spool files (hidden and ``_`` names aside).

    The flush step quarantines their lines once, so nothing dropped into the spool
    directory by mistake disappears silently.
    """
    from ._spool import parse_spool_name

    out = []
    for fn in sorted(os.listdir(log_dir)):
        if fn.startswith((".", "_")) or parse_spool_name(fn) is not None:
            continue
        path = os.path.join(log_dir, fn)
        if os.path.isfile(path) and not os.path.islink(path):
            out.append(path)
    return out


def _quarantine_foreign(path: str) -> list[QuarantineRow]:
    rows = []
    reason = (
        "foreign file in log_dir: its name is not a LakeTrace spool file name, so its lines "
        "were not loaded (keep other files out of the spool directory)"
    )
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            text = raw[:RAW_LIMIT].decode("utf-8", "replace").rstrip("\n")
            rows.append(QuarantineRow(os.path.basename(path), n, reason, text))
    return rows


def _prepare(writer: Any, version: int, files: list[SpoolFile], staging: str) -> Prepared:
    """Decompress what the reader cannot read, find files with bad lines, split those."""
    quarantine: list[QuarantineRow] = []
    for f in files:
        if f.stem.startswith(FOREIGN_PREFIX):
            quarantine.extend(_quarantine_foreign(f.path))
    files = [f for f in files if not f.stem.startswith(FOREIGN_PREFIX)]
    readable = [_materialize(f.path, staging, writer.compressions) for f in files]
    problems = writer.problem_files(readable)
    clean: list[str] = []
    for src, path in zip(files, readable, strict=True):
        if path in problems:
            cleaned, bad, good = split_file(path, os.path.join(staging, "clean"))
            for row in bad:
                row.source_file = os.path.basename(src.path)
            quarantine.extend(bad)
            if good:
                clean.append(cleaned)
        else:
            clean.append(path)
    return Prepared(version, clean, quarantine, _dt.datetime.now(_dt.timezone.utc))
