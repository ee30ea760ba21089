"""`flush_to_delta`: ship sealed spool files into a Delta table exactly once.

The target table is the source of truth. It is identified by its Delta table id (so
``/tmp/t``, ``//tmp/t/`` and a symlink to it are one table), and every commit records in
its metadata which spool files it shipped (`laketrace.flush.commits`). The local ledger
(``<log_dir>/_laketrace/manifest.jsonl``) is a checksummed cache of that; when it is
missing, damaged or behind the table it is rebuilt from the table's history
(`laketrace.flush.rebuild`), and files the history cannot vouch for are shipped
idempotently (only record_ids the table does not hold).

Per batch of sealed files (at most ``batch_bytes`` each):

1. append ``planned`` (txn app id, batch number V, files and sizes) to the ledger;
2. hold the files (hard links in staging), prepare them, and commit the quarantine rows
   and the good lines as Delta txn (``<app>:q``, V) and (``<app>``, V);
3. append ``committed`` to the ledger.

A crash anywhere leaves a ``planned`` batch without ``committed``; the next flush re-runs
exactly that batch with the same txn, checking the table first, so every record ends up in
the table (or the quarantine table) exactly once. A damaged file never stops a flush: its
readable lines ship and the rest is quarantined with the reason.

>>> from laketrace import flush_to_delta
>>> result = flush_to_delta(log_dir="/tmp/lt-doc", path="/tmp/lt-doc-table")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import runtime as _runtime
from ..errors import ConfigError, FlushError
from ..schema import PARTITION_COLUMNS
from ..spool.ids import spool_id
from ..spool.ledger import Manifest, TableState, encode_entry
from ..spool.live import seal_active
from ..spool.names import INTERNAL_DIR
from ..spool.recover import recover
from ..storage import check_storage_options, storage_for, store_errors
from ..targets import Target, resolve_target, rs_reachable, with_quarantine
from .commits import commit_meta
from .faults import armed, die, fault
from .plan import Batch, flush_lock, plan, shippable
from .prepare import clear_staging, prepare, staging_dir
from .rebuild import rebuild
from .result import FlushResult
from .rs_options import Options
from .writer import Outcome, Prepared, Writer

# per Delta commit: Spark parallelises large batches well; delta-rs and the Spark Connect
# client hold a batch in memory (Connect sends it to the server as one Arrow relation)
DEFAULT_BATCH_BYTES = {
    "spark": 1024 * 1024 * 1024,
    "delta-rs": 128 * 1024 * 1024,
    "connect": 128 * 1024 * 1024,
}


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


def _warn(text: str) -> None:
    try:
        sys.stderr.write(f"WARNING LakeTrace flush: {text}\n")
    except Exception:
        pass


def _plain_path(path: str | None) -> str | None:
    """``//tmp/t`` and ``/tmp/./t/`` as ``/tmp/t`` (Hadoop reads ``//tmp`` as a host)."""
    if path is None or not path.startswith("/"):
        return path
    return "/" + os.path.normpath(path).lstrip("/")


def _plain_target(target: Target) -> Target:
    if target.kind != "path":
        return target
    return dataclasses.replace(
        target,
        location=_plain_path(target.location) or target.location,
        local_path=_plain_path(target.local_path),
        quarantine=_plain_path(target.quarantine) or target.quarantine,
        quarantine_local=_plain_path(target.quarantine_local),
    )


def choose_writer(spark: Any, target: Target, storage: Options | None = None) -> Writer:
    """The Spark writer with a session (the Connect writer with a Spark Connect session),
    else delta-rs (which reaches paths and object-store URIs; ``storage`` gives the latter
    their `storage_options`)."""
    if spark is not None and _runtime.is_connect_session(spark):
        from .connect import ConnectWriter

        return ConnectWriter(spark, target)
    if spark is not None:
        from .spark import SparkWriter

        return SparkWriter(spark, target)
    if target.kind == "table" or (target.local_path is None and not rs_reachable(target)):
        raise ConfigError(
            f"flush target {target.display} needs Spark (no local path reaches it): pass a "
            "SparkSession as the first argument of flush_to_delta."
        )
    from .delta_rs import DeltaRsWriter

    return DeltaRsWriter(target, storage)


def _check_options(batch_bytes: Any, partition_by: Any) -> None:
    if batch_bytes is not None and (not isinstance(batch_bytes, int) or batch_bytes < 1):
        raise ConfigError(
            f"flush_to_delta: batch_bytes must be a positive int, got {batch_bytes!r}."
        )
    if partition_by is not None and partition_by not in PARTITION_COLUMNS:
        raise ConfigError(
            f"flush_to_delta: partition_by must be one of {list(PARTITION_COLUMNS)} or None, "
            f"got {partition_by!r}."
        )


def _spool_dir(log_dir: Any, rt: str) -> str:
    spool_dir = os.path.abspath(os.fspath(log_dir)) if log_dir else _runtime.default_log_dir(rt)
    if not os.path.isdir(spool_dir):
        raise ConfigError(
            f"flush_to_delta: log_dir {spool_dir!r} does not exist. Pass the log_dir your "
            "loggers write to (get_logger(..., {'log_dir': ...}))."
        )
    return spool_dir


#: newer commits than this since the ledger's last flush: rebuild instead of reading them
_MAX_CHECKED_COMMITS = 5000


class _LedgerBehind(Exception):
    """The table already holds a batch the ledger calls new."""


class _Flush:
    """One flush of one spool directory to one target (under the spool's flush lock)."""

    def __init__(
        self, writer: Writer, target: Target, spool_dir: str, result: FlushResult, **opts: Any
    ) -> None:
        self.writer = writer
        self.target = target
        self.spool_dir = spool_dir
        self.result = result
        self.manifest = Manifest(spool_dir)
        self.batch_bytes: int = opts["batch_bytes"]
        self.partition_by: str | None = opts["partition_by"]
        self.report: Callable[[dict], None] = opts["report"]
        self.spool = ""
        self.table_id = ""

    def run(self) -> None:
        files = shippable(self.spool_dir)
        t, ledger = self.target, self.manifest
        if not ledger.has_pending() and set(files) <= ledger.shipped_to(t.display, t.key):
            # nothing new by the ledger: leave the table alone (on Spark, even reading its
            # version starts a job, which a listener would log and answer with a flush)
            self.result.table_version = ledger.last_table_version(t.display, t.key)
            return
        scan_ahead = getattr(self.writer, "scan_ahead", None)  # Spark: while the JVM works
        if scan_ahead is not None:
            shipped = ledger.shipped_to(t.display, t.key)
            scan_ahead([p for s, p in sorted(files.items()) if s not in shipped])
        self.writer.ensure_tables(self.partition_by)
        self.table_id = self.writer.table_id()
        self.spool = spool_id(self.spool_dir)
        behind = False
        for _ in range(3):
            state = self._state(files, behind)
            self._sweep_staging()
            try:
                self._ship(plan(state, files, self.spool_dir, self.batch_bytes))
                if not self.result.batches:
                    self.result.table_version = self.writer.table_version()
                return
            except _LedgerBehind:
                behind = True
                files = shippable(self.spool_dir)
        raise FlushError(
            f"the ledger {self.manifest.path} kept disagreeing with the table "
            f"{self.target.display} after rebuilding it from the table's history; nothing "
            "was lost, the next flush retries"
        )

    def _behind(self, state: TableState, files: dict[str, str]) -> bool:
        """Whether the table has commits of these files the ledger does not know (an old
        copy of the ledger was restored, or its last lines were lost)."""
        current = self.writer.table_version()
        if state.table_version is None or current is None or current <= state.table_version:
            return False
        n = current - state.table_version
        if n > _MAX_CHECKED_COMMITS:
            return True  # cheaper to rebuild from the time window of the files
        for c in self.writer.latest(n):
            meta = c.meta
            if meta is None or meta.get("kind", "main") != "main":
                continue
            if (meta["app"], meta["batch"]) not in state.known and any(
                stem in files for stem, _ in meta["files"]
            ):
                return True
        return False

    def _state(self, files: dict[str, str], behind: bool) -> TableState:
        state = self.manifest.state(self.table_id, legacy_key=self.target.key)
        reason = (
            "the table holds a batch the ledger calls new"
            if behind
            else "the ledger has damaged lines"
            if state.damaged
            else "the ledger has no entries for this table"
            if state.app_id is None
            else "the table has commits the ledger does not know"
            if self._behind(state, files)
            else None
        )
        if reason is None:
            return state
        rebuild(
            self.writer,
            self.manifest,
            table_id=self.table_id,
            spool=self.spool,
            files=files,
            reason=reason,
            legacy_key=self.target.key,
        )
        self.result.rebuilt.append(reason)
        return self.manifest.state(self.table_id)

    def _sweep_staging(self) -> None:
        """Drop staging left by batches no ledger entry will resume (held links keep the
        blocks of deleted files alive)."""
        root = os.path.join(self.spool_dir, INTERNAL_DIR, "staging")
        try:
            names = os.listdir(root)
        except OSError:
            return
        keep = {
            os.path.basename(staging_dir(self.spool_dir, str(app), int(batch)))
            for app, batch in self.manifest.pending_txns()
            if isinstance(batch, int)
        }
        for name in names:
            if name not in keep:
                clear_staging(os.path.join(root, name))

    def _ship(self, work: list[Batch]) -> None:
        want_next = getattr(self.writer, "want_next", None)  # delta-rs reads ahead
        if want_next is not None and work:
            want_next([f.path for f in work[0].files if not f.foreign], now=True)
        for index, batch in enumerate(work, 1):
            if want_next is not None and index < len(work):
                want_next([f.path for f in work[index].files if not f.foreign])
            outcome = self._batch(batch)
            self.result.add(batch, outcome)
            self.report(
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

    def _entry(self, event: str, batch: Batch, **more: Any) -> dict:
        return {
            "event": event,
            "table_id": self.table_id,
            "target": self.target.display,
            "app_id": batch.app_id,
            "batch": batch.version,
            "files": [{"stem": f.stem, "size": f.size} for f in batch.files],
            **more,
            "at": time.time(),
        }

    def _prepared(self, batch: Batch) -> Prepared:
        out = Prepared(
            batch.version,
            app_id=batch.app_id,
            idempotent=batch.idempotent,
            fresh=not batch.resumed,
            report_missing=not batch.requeued,
        )
        if batch.resumed:
            w, since = self.writer, batch.since_ms
            out.main_done = w.committed(batch.app_id, batch.version, since, quarantine=False)
            out.q_done = w.committed(batch.app_id, batch.version, since, quarantine=True)
        files = [(f.stem, f.size) for f in batch.files]
        meta = dict(spool=self.spool, app=batch.app_id, batch=batch.version, files=files)
        out.main_meta = commit_meta(kind="main", **meta)  # type: ignore[arg-type]
        out.q_meta = commit_meta(kind="quarantine", **meta)  # type: ignore[arg-type]
        return out

    def _batch(self, batch: Batch) -> Outcome:
        """Plan (unless resumed), prepare, write and commit one batch in the ledger."""
        staging = staging_dir(self.spool_dir, batch.app_id, batch.version)
        if not batch.resumed:
            clear_staging(staging)
            self.manifest.append(self._entry("planned", batch, idempotent=batch.idempotent))
        fault("after_plan")
        out = self._prepared(batch)
        if out.main_done and out.q_done:
            outcome = Outcome(0, self.writer.table_version(), True)
        else:
            prepare(self.writer, self.spool_dir, batch.files, staging, out)
            fault("before_commit")
            outcome = self.writer.write_batch(out)
            if outcome.skipped and out.fresh:
                raise _LedgerBehind
        fault("after_commit")
        missing = out.missing if out.report_missing and not out.q_done else []
        entry = self._entry(
            "committed",
            batch,
            records=outcome.records,
            quarantined=outcome.quarantined,
            table_version=outcome.table_version,
            skipped=outcome.skipped,
            missing=missing,
        )
        self._commit_entry(entry)
        clear_staging(staging)
        if missing:
            self.result.missing.extend(missing)
            _warn(
                f"{len(missing)} planned spool file(s) were gone before flush batch "
                f"{batch.version} shipped them (deleted by retention or by hand); each is "
                f"recorded as 'missing' in the quarantine table: {', '.join(missing[:5])}"
            )
        return outcome

    def _commit_entry(self, entry: dict) -> None:
        if armed("torn_ledger"):
            data = encode_entry(entry)
            with open(self.manifest.path, "ab") as fh:
                fh.write(data[: len(data) // 2])
            die()
        self.manifest.append(entry)
        fault("after_ledger")


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
    storage_options: Mapping[str, str] | None = None,
) -> FlushResult:
    """Ship every sealed spool file in ``log_dir`` into the Delta target, exactly once.

    With a SparkSession the Spark + delta-spark writer is used (any target; with a Spark
    Connect session the client parses the spool and sends Arrow batches); without
    one, delta-rs writes path targets (``pip install 'laketrace[delta]'``). Each batch of
    at most ``batch_bytes`` of spool files is one Delta commit (default 1 GiB with Spark,
    128 MiB with delta-rs, which holds a batch in memory). Bad lines go
    to the quarantine table (``<target>_quarantine`` unless ``quarantine=`` names
    another) and are counted in the result. ``partition_by=None`` creates an
    unpartitioned table. ``progress=True`` prints one line per batch on stderr (or pass
    a callable that receives a dict per event).

    A damaged spool file never makes the flush raise: its readable lines ship and the
    rest is quarantined with the reason; a planned file that is gone is recorded as
    missing (``FlushResult.missing``, one WARNING on stderr). The flush raises only when
    it cannot write the target (the files stay for the next flush).

    ``storage_options`` (delta-rs without Spark) reach an object-store URI
    (``abfss://``, ``s3://``): e.g. ``{"account_name": ..., "account_key": ...}``. On
    Fabric a OneLake URI needs none (a token comes from ``notebookutils``). Their values
    are never printed; a refused request raises one `StorageError` naming the account and
    container, and marks nothing shipped.
    """
    t0 = time.monotonic()
    _check_options(batch_bytes, partition_by)
    options = check_storage_options(storage_options, what="flush_to_delta: storage_options")
    rt = _runtime.detect_runtime()
    spool_dir = _spool_dir(log_dir, rt)
    seal_active(spool_dir)  # this process's records logged so far ship too
    has_spark = spark is not None
    target = resolve_target(path=path, table=table, runtime=rt, has_spark=has_spark)
    target = with_quarantine(target, quarantine, runtime=rt, has_spark=has_spark)
    target = _plain_target(target)
    storage = None if has_spark else storage_for(target.location, options)
    writer = choose_writer(spark, target, storage)
    result = FlushResult(target=target.display, writer=writer.name)
    where = "" if has_spark else target.location  # Spark reports its own errors
    with flush_lock(spool_dir), writer.scope(), store_errors(where, options, doing="flush to"):
        result.recovered = recover(spool_dir).sealed
        _Flush(
            writer,
            target,
            spool_dir,
            result,
            batch_bytes=batch_bytes or DEFAULT_BATCH_BYTES[writer.name],
            partition_by=partition_by,
            report=_progress_fn(progress),
        ).run()
    result.seconds = time.monotonic() - t0
    return result
