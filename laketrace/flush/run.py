"""`flush_to_delta`: ship sealed spool files into a Delta table exactly once.

Protocol, per batch of sealed files (at most ``batch_bytes`` each):

1. append ``planned`` (batch number V, its files and sizes) to the spool's ledger
   (``<log_dir>/_laketrace/manifest.jsonl``, fsynced);
2. write the batch's bad lines to the quarantine table with Delta txn (``<app>:q``, V);
3. append the good lines to the target with Delta txn (``<app>``, V);
4. append ``committed`` to the ledger.

A crash anywhere leaves a ``planned`` batch without ``committed``; the next flush re-runs
exactly that batch with the same V, and Delta's transaction ids turn the part that had
already been committed into a no-op (Spark skips it by itself; with delta-rs the table's
recorded version for the app id is checked first). So every record ends up in the table
exactly once.

>>> from laketrace import flush_to_delta
>>> result = flush_to_delta(log_dir="/tmp/lt-doc", path="/tmp/lt-doc-table")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import runtime as _runtime
from ..errors import ConfigError
from ..spool.ids import spool_id
from ..spool.ledger import Manifest
from ..spool.live import seal_active
from ..spool.names import INTERNAL_DIR
from ..spool.recover import recover
from ..targets import Target, resolve_target, with_quarantine
from .faults import fault
from .plan import Batch, flush_lock, plan
from .prepare import prepare
from .writer import Outcome, Writer

# per Delta commit: Spark parallelises large batches well; delta-rs holds a batch in memory
DEFAULT_BATCH_BYTES = {"spark": 1024 * 1024 * 1024, "delta-rs": 128 * 1024 * 1024}


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

    def add(self, batch: Batch, outcome: Outcome) -> None:
        """Count one batch's outcome."""
        self.batches += 1
        self.files += len(batch.files)
        self.bytes += sum(f.size for f in batch.files)
        self.records += 0 if outcome.skipped else outcome.records
        self.quarantined += outcome.quarantined
        self.skipped_batches += outcome.skipped
        self.table_version = outcome.table_version


def _progress_fn(progress: Any) -> Callable[[dict], None]:
    if progress is True:
        return _print_progress
    if callable(progress):
        return progress  # type: ignore[no-any-return]
    return lambda info: None


def _print_progress(info: dict) -> None:
    if info.get("event") == "batch":
        print(
            f"[laketrace flush] batch {info['index']}/{info['total']}: {info['files']} file(s), "
            f"{info['records']:,} records, {info['quarantined']} quarantined"
            f"{' (already committed)' if info.get('skipped') else ''}",
            file=sys.stderr,
        )


def choose_writer(spark: Any, target: Target) -> Writer:
    """The Spark writer with a session, else delta-rs (which reaches only paths)."""
    if spark is not None:
        from .spark import SparkWriter

        return SparkWriter(spark, target)
    if target.kind == "table" or target.local_path is None:
        raise ConfigError(
            f"flush target {target.display} needs Spark (no local path reaches it): pass a "
            "SparkSession as the first argument of flush_to_delta."
        )
    from .delta_rs import DeltaRsWriter

    return DeltaRsWriter(target)


def _check_options(batch_bytes: Any, partition_by: Any) -> None:
    if batch_bytes is not None and (not isinstance(batch_bytes, int) or batch_bytes < 1):
        raise ConfigError(
            f"flush_to_delta: batch_bytes must be a positive int, got {batch_bytes!r}."
        )
    if partition_by not in (None, "date"):
        raise ConfigError(
            f"flush_to_delta: partition_by must be 'date' or None, got {partition_by!r}."
        )


def _spool_dir(log_dir: Any, rt: str) -> str:
    spool_dir = os.path.abspath(os.fspath(log_dir)) if log_dir else _runtime.default_log_dir(rt)
    if not os.path.isdir(spool_dir):
        raise ConfigError(
            f"flush_to_delta: log_dir {spool_dir!r} does not exist. Pass the log_dir your "
            "loggers write to (get_logger(..., {'log_dir': ...}))."
        )
    return spool_dir


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
    _check_options(batch_bytes, partition_by)
    rt = _runtime.detect_runtime()
    spool_dir = _spool_dir(log_dir, rt)
    seal_active(spool_dir)  # this process's records logged so far ship too
    has_spark = spark is not None
    target = resolve_target(path=path, table=table, runtime=rt, has_spark=has_spark)
    target = with_quarantine(target, quarantine, runtime=rt, has_spark=has_spark)
    writer = choose_writer(spark, target)
    report = _progress_fn(progress)
    result = FlushResult(target=target.display, writer=writer.name)
    with flush_lock(spool_dir):
        result.recovered = recover(spool_dir).sealed
        manifest = Manifest(spool_dir)
        app_id = f"laketrace-{spool_id(spool_dir)}-{target.key}"
        work = plan(
            manifest, target.key, spool_dir, batch_bytes or DEFAULT_BATCH_BYTES[writer.name]
        )
        if not work:
            result.table_version = writer.table_version() if writer.exists() else None
        else:
            writer.ensure_tables(partition_by)
        for index, batch in enumerate(work, 1):
            outcome = _run_batch(writer, manifest, target, app_id, batch, spool_dir)
            result.add(batch, outcome)
            report(
                {
                    "event": "batch",
                    "index": index,
                    "total": len(work),
                    "files": len(batch.files),
                    "records": outcome.records,
                    "quarantined": outcome.quarantined,
                    "skipped": outcome.skipped,
                }
            )
    result.seconds = time.monotonic() - t0
    return result


def _run_batch(
    writer: Writer, manifest: Manifest, target: Target, app_id: str, batch: Batch, spool_dir: str
) -> Outcome:
    """Plan (unless resumed), write and commit one batch in the ledger."""
    v = batch.version
    if not batch.resumed:
        manifest.append(
            {
                "event": "planned",
                "batch": v,
                "target": target.key,
                "app_id": app_id,
                "files": [{"stem": f.stem, "size": f.size} for f in batch.files],
                "at": time.time(),
            }
        )
    fault("before_commit")
    staging = os.path.join(spool_dir, INTERNAL_DIR, "staging", f"batch-{v}")
    try:
        outcome = writer.write_batch(prepare(writer, v, batch.files, staging), app_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fault("after_commit")
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
    return outcome
