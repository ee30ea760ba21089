"""The Spark writer (delta-spark): reads spool lines as text and parses them with an
explicit schema, checks them with the one rule in SQL, and appends with Delta idempotent
writes (``txnAppId``/``txnVersion``), so a retried batch is skipped by Delta itself.

Every commit carries LakeTrace's metadata in ``userMetadata``. The main commit comes
first (the bad lines are found during its single pass over the data), then the
quarantine commit; a batch re-run after a crash between the two writes its quarantine
rows only, and only those the quarantine table does not hold.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .. import runtime as _runtime
from ..schema import COLUMN_NAMES, spark_schema
from ..spool.read import open_spool_file
from ..targets import Target
from .commits import Commit, History, page_sizes, parse_meta, read_back
from .faults import fault
from .scan_ahead import ScanAhead
from .spark_delta import check_schema, commits_from_rows, delta_append
from .spark_read import read_lines
from .validate import RAW_LIMIT, validate_line
from .writer import (
    QUARANTINE_DESCRIPTION,
    TABLE_DESCRIPTION,
    TABLE_PROPERTIES,
    Outcome,
    Prepared,
    QuarantineRow,
    name_variants,
    new_rows,
    quarantine_key,
)


@contextlib.contextmanager
def flush_job_group(spark: Any) -> Iterator[None]:
    """Tag Spark jobs started inside the block with LakeTrace's job group (restored after)."""
    sc = spark.sparkContext
    keys = (
        _runtime.PROP_JOB_GROUP,
        _runtime.PROP_JOB_DESCRIPTION,
        _runtime.PROP_INTERRUPT_ON_CANCEL,
    )
    old = {k: sc.getLocalProperty(k) for k in keys}
    sc.setLocalProperty(_runtime.PROP_JOB_GROUP, _runtime.FLUSH_JOB_GROUP)
    sc.setLocalProperty(_runtime.PROP_JOB_DESCRIPTION, "LakeTrace: flush spool to Delta")
    try:
        yield
    finally:
        for k, v in old.items():
            sc.setLocalProperty(k, v)


class SparkWriter:
    """Writes batches with Spark + delta-spark to a path or catalog-table target."""

    name = "spark"
    lenient = frozenset({"utf8", "bom", "surrogate", "depth", "nul"})

    def __init__(self, spark: Any, target: Target) -> None:
        try:
            from delta.tables import DeltaTable
            from pyspark.sql import functions as F
        except ImportError as exc:  # pragma: no cover - depends on the cluster
            raise ImportError(
                "the Spark writer needs delta-spark: on Databricks/Fabric it is built in; "
                "locally pip install 'laketrace[spark]'"
            ) from exc
        self.spark = spark
        self.target = target
        self.DeltaTable = DeltaTable
        self.F = F
        self._ahead: ScanAhead | None = None

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Every Spark job of the flush runs in LakeTrace's job group (the listener ignores
        it: no records about the flush's own jobs, no flush answering a flush)."""
        try:
            with flush_job_group(self.spark):
                yield
        finally:
            if self._ahead is not None:
                self._ahead.stop()

    def scan_ahead(self, paths: list[str]) -> None:
        """Byte-scan the plain files of ``paths`` on a thread while the flush reads the
        table (`laketrace.flush.scan_ahead`)."""
        plain = [p for p in paths if p.endswith(".jsonl")]
        self._ahead = ScanAhead(plain, self.lenient) if plain else None

    def scanned(self, path: str) -> tuple[bool, str | None]:
        """The scan-ahead's byte scan of ``path``, if it scanned that very file."""
        return self._ahead.scanned(path) if self._ahead is not None else (False, None)

    def _table(self, location: str, kind: str) -> Any:
        if kind == "table":
            return self.DeltaTable.forName(self.spark, location)
        return self.DeltaTable.forPath(self.spark, location)

    def _exists(self, location: str) -> bool:
        if self.target.kind == "table":
            return bool(self.spark.catalog.tableExists(location))
        return bool(self.DeltaTable.isDeltaTable(self.spark, location))

    def exists(self) -> bool:
        return self._exists(self.target.location)

    def table_version(self) -> int | None:
        if not self.exists():
            return None
        return int(self._table(self.target.location, self.target.kind).history(1).first()[0])

    def table_id(self) -> str:
        return str(self._table(self.target.location, self.target.kind).detail().first()["id"])

    def ensure_tables(self, partition_by: str | None) -> None:
        """Create the target table if needed (the quarantine table is created on first use)."""
        with flush_job_group(self.spark):
            self._ensure(
                self.target.location,
                self.target.kind,
                spark_schema(),
                partition_by,
                TABLE_DESCRIPTION,
            )

    def _ensure_quarantine(self) -> None:
        self._ensure(
            self.target.quarantine,
            self.target.kind,
            spark_schema(quarantine=True),
            None,
            QUARANTINE_DESCRIPTION,
        )

    def _ensure(self, location: str, kind: str, schema: Any, part: str | None, desc: str) -> None:
        if self._exists(location):
            have = self._table(location, kind).toDF().schema
            check_schema(location, schema, have)
            return
        builder = self.DeltaTable.createIfNotExists(self.spark)
        builder = builder.tableName(location) if kind == "table" else builder.location(location)
        builder = builder.addColumns(schema).comment(desc)
        for k, v in TABLE_PROPERTIES.items():
            builder = builder.property(k, v)
        if part:
            builder = builder.partitionedBy(part)
        builder.execute()

    def _commits(self, location: str, limit: int) -> list[Commit]:
        F = self.F
        rows = (
            self._table(location, self.target.kind)
            .history(limit)
            .select(
                "version",
                F.expr("unix_millis(timestamp)").alias("ms"),
                "operation",
                "userMetadata",
            )
            .collect()
        )
        return commits_from_rows(rows)

    def latest(self, limit: int) -> list[Commit]:
        if not self.exists():
            return []
        with flush_job_group(self.spark):
            return self._commits(self.target.location, limit)

    def history(self, since_ms: int, *, quarantine: bool = False) -> History:
        """Commits at or after ``since_ms`` (read backwards a page at a time)."""
        location = self.target.quarantine if quarantine else self.target.location
        if not self._exists(location):
            return History([], True)
        with flush_job_group(self.spark):
            return read_back(lambda limit: self._commits(location, limit), since_ms)

    def committed(self, app_id: str, version: int, since_ms: int, *, quarantine: bool) -> bool:
        return self.history(since_ms, quarantine=quarantine).find(app_id, version) is not None

    def problem_files(self, paths: list[str]) -> set[str]:
        """None up front: the Spark writer finds bad lines during its single write pass."""
        return set()

    def _final(self, df: Any, ingested_at: Any) -> Any:
        F = self.F
        cols = []
        for name in COLUMN_NAMES:
            if name == "ts":
                cols.append(F.col("_ts").alias("ts"))
            elif name == "date":
                cols.append(
                    F.expr(
                        "date_from_unix_date(CAST(floor(unix_micros(_ts) / 86400000000) AS INT))"
                    ).alias("date")
                )
            elif name == "ingested_at":
                cols.append(F.lit(ingested_at).cast("timestamp").alias("ingested_at"))
            else:
                cols.append(F.col(name))
        return df.filter(~F.col("_bad")).select(*cols)

    def _absent(self, df: Any) -> Any:
        """``df`` without the record_ids the target holds already (same dates)."""
        F = self.F
        dates = [r[0] for r in df.select("date").distinct().collect()]
        have = (
            self._table(self.target.location, self.target.kind)
            .toDF()
            .filter(F.col("date").isin(dates))
            .select("record_id")
            .distinct()
        )
        return df.join(have, "record_id", "left_anti").select(*COLUMN_NAMES)

    def _bad_rows(self, files: list[str], prepared: Prepared) -> list[QuarantineRow]:
        """The lines Spark rejected in ``files``, as quarantine rows with line numbers."""
        out: list[QuarantineRow] = []
        for path in files:
            bad = [r[0] for r in read_lines(self, [path]).filter("_bad").select("value").collect()]
            lines = _line_index(path) if bad else {}
            name = prepared.origin.get(path, os.path.basename(path))
            for raw in bad:
                reason = validate_line((raw + "\n").encode("utf-8", "surrogatepass"))
                numbers = lines.get(raw) or []
                line_no = (numbers.pop(0) if len(numbers) > 1 else numbers[0]) if numbers else None
                out.append(
                    QuarantineRow(
                        name, line_no, reason or "Spark could not load the line", raw[:RAW_LIMIT]
                    )
                )
        return out

    def _after_append(self, before: int | None, prepared: Prepared) -> tuple[bool, int, int]:
        """``(skipped, rows written, table version)`` read from the table's newest commits.

        One history read (with the commits' metrics) usually finds the batch's commit; the
        page grows while other writers' commits hide it.
        """
        table = self._table(self.target.location, self.target.kind)
        oldest = before if before is not None else -1
        latest = before or 0
        for limit in page_sizes(first=4):
            rows = table.history(limit).select("version", "userMetadata", "operationMetrics")
            got = [(int(r[0]), r[1], r[2]) for r in rows.collect()]
            latest = max([latest] + [v for v, _, _ in got])
            newer = [g for g in got if g[0] > oldest]
            for _, text, metrics in newer:
                meta = parse_meta(text)
                if meta and meta["app"] == prepared.app_id and meta["batch"] == prepared.version:
                    return False, int((metrics or {}).get("numOutputRows", 0)), latest
            if len(newer) < len(got) or len(got) < limit:
                break  # reached commits older than the append: ours is not among them
        return True, 0, latest  # Delta skipped it: the txn was committed before

    def _main(self, prepared: Prepared) -> tuple[bool, int, list[str], int]:
        """Append the good lines; ``(skipped, written, files with bad lines, version)``."""
        from pyspark.sql import Observation

        F = self.F
        before = self.table_version()
        obs = Observation("laketrace_flush")
        df = read_lines(self, prepared.readable).observe(
            obs,
            F.concat_ws("\n", F.collect_set(F.when(F.col("_bad"), F.col("_file")))).alias("files"),
        )
        final = self._final(df, prepared.ingested_at)
        if prepared.idempotent:
            final = self._absent(final)
        delta_append(
            final,
            self.target.location,
            table=self.target.kind == "table",
            app_id=prepared.app_id,
            version=prepared.version,
            meta=prepared.main_meta,
        )
        skipped, written, version = self._after_append(before, prepared)
        if skipped:
            return True, 0, [], version
        bad = [f for f in (obs.get.get("files") or "").split("\n") if f]
        return False, written, bad, version

    def _existing_quarantine(self, names: list[str]) -> set[tuple[str, int | None]]:
        if not names or not self._exists(self.target.quarantine):
            return set()
        F = self.F
        rows = (
            self._table(self.target.quarantine, self.target.kind)
            .toDF()
            .filter(F.col("source_file").isin(name_variants(names)))
            .select("source_file", "line_no")
            .collect()
        )
        return {quarantine_key(r[0], r[1]) for r in rows}

    def _quarantine(self, prepared: Prepared, rows: list[QuarantineRow]) -> int:
        """Append the rows the quarantine table does not hold yet; how many were new."""
        keep = new_rows(rows, self._existing_quarantine(prepared.sources))
        if not keep:
            return 0
        self._ensure_quarantine()
        at = prepared.ingested_at
        data = [
            (r.source_file, r.line_no, r.reason, r.raw_line, prepared.version, at) for r in keep
        ]
        qdf = self.spark.createDataFrame(data, spark_schema(quarantine=True))
        delta_append(
            qdf,
            self.target.quarantine,
            table=self.target.kind == "table",
            app_id=prepared.app_id + ":q",
            version=prepared.version,
            meta=prepared.q_meta,
        )
        return len(keep)

    def write_batch(self, prepared: Prepared) -> Outcome:
        with flush_job_group(self.spark):
            skipped, written, version = prepared.main_done, 0, None
            bad_files: list[str] = []
            if prepared.readable and not prepared.main_done:
                skipped, written, bad_files, version = self._main(prepared)
                if skipped and prepared.fresh:  # the ledger is behind the table
                    return Outcome(0, self.table_version(), True)
            if prepared.readable and skipped and not prepared.q_done:
                # committed before (a re-run after a crash): look for bad lines again
                found = read_lines(self, prepared.readable).filter("_bad").select("_file")
                bad_files = sorted({r[0] for r in found.distinct().collect()})
            fault("between_commits")
            quarantined = 0
            if not prepared.q_done:
                by_uri = {_uri_key(p): p for p in prepared.readable}
                local = [by_uri.get(_uri_key(f), f) for f in bad_files]
                rows = self._bad_rows(local, prepared) + list(prepared.quarantine)
                if rows:
                    quarantined = self._quarantine(prepared, rows)
                    fault("during_quarantine")
        if version is None:
            version = self.table_version()
        return Outcome(written, version, skipped, quarantined=quarantined)


def _line_index(path: str) -> dict[str, list[int]]:
    """Line text -> its 1-based line numbers, for matching the lines Spark rejected (a
    line repeated in a file gets each of its numbers in turn)."""
    out: dict[str, list[int]] = {}
    with open_spool_file(path) as fh:
        for n, raw in enumerate(fh, 1):
            out.setdefault(raw.decode("utf-8", "replace").rstrip("\n"), []).append(n)
    return out


def _uri_key(path: str) -> str:
    text = str(path)
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.lstrip("/")
