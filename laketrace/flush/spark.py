"""The Spark writer (delta-spark): reads spool JSON with an explicit schema, appends with
Delta idempotent writes (``txnAppId``/``txnVersion``), so a retried batch is skipped by
Delta itself. It only reads the table's latest commit, never scans the table."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from .. import runtime as _runtime
from ..schema import COLUMN_NAMES, REQUIRED_COLUMNS, SPOOL_COLUMNS, spark_schema
from ..spool.read import open_spool_file
from ..targets import Target
from .faults import fault
from .validate import RAW_LIMIT, bad_ts_reason, missing_required_reason, validate_line
from .writer import (
    QUARANTINE_DESCRIPTION,
    TABLE_DESCRIPTION,
    TABLE_PROPERTIES,
    Outcome,
    Prepared,
    check_columns,
)

_CORRUPT = "_corrupt_record"


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
    compressions: tuple[str, ...] = (".gz", ".bz2")

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

    def _table(self, location: str, kind: str) -> Any:
        if kind == "table":
            return self.DeltaTable.forName(self.spark, location)
        return self.DeltaTable.forPath(self.spark, location)

    def exists(self) -> bool:
        t = self.target
        if t.kind == "table":
            return bool(self.spark.catalog.tableExists(t.location))
        return bool(self.DeltaTable.isDeltaTable(self.spark, t.location))

    def table_version(self) -> int | None:
        if not self.exists():
            return None
        return int(self._table(self.target.location, self.target.kind).history(1).first()[0])

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
        exists = (
            self.spark.catalog.tableExists(location)
            if kind == "table"
            else self.DeltaTable.isDeltaTable(self.spark, location)
        )
        if exists:
            have = self._table(location, kind).toDF().schema
            _check_schema(location, schema, have)
            return
        builder = self.DeltaTable.createIfNotExists(self.spark)
        builder = builder.tableName(location) if kind == "table" else builder.location(location)
        builder = builder.addColumns(schema).comment(desc)
        for k, v in TABLE_PROPERTIES.items():
            builder = builder.property(k, v)
        if part:
            builder = builder.partitionedBy(part)
        builder.execute()

    def _read(self, paths: list[str]) -> Any:
        from pyspark.sql import types as T

        F = self.F
        fields = []
        for f in spark_schema(spool=True).fields:
            fields.append(T.StructField(f.name, T.StringType() if f.name == "ts" else f.dataType))
        schema = T.StructType([*fields, T.StructField(_CORRUPT, T.StringType())])
        df = (
            self.spark.read.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", _CORRUPT)
            .json(paths)
        )
        bad = F.col(_CORRUPT).isNotNull() | F.expr("try_to_timestamp(ts)").isNull()
        for name in REQUIRED_COLUMNS:  # the same rule as laketrace.flush.validate
            bad = bad | F.col(name).isNull() | (F.col(name) == "")
        return df.withColumn("_file", F.col("_metadata.file_path")).withColumn("_bad", bad)

    def problem_files(self, paths: list[str]) -> set[str]:
        """None up front: the Spark writer finds bad lines during its single write pass."""
        return set()

    def _final(self, df: Any, ingested_at: Any) -> Any:
        F = self.F
        cols = []
        for name in COLUMN_NAMES:
            if name == "ts":
                cols.append(F.expr("to_timestamp(ts)").alias("ts"))
            elif name == "date":
                cols.append(F.expr("to_date(substring(ts, 1, 10))").alias("date"))
            elif name == "ingested_at":
                cols.append(F.lit(ingested_at).cast("timestamp").alias("ingested_at"))
            else:
                cols.append(F.col(name))
        return df.filter(~F.col("_bad")).select(*cols)

    def _append(self, df: Any, location: str, app_id: str, version: int) -> None:
        writer = (
            df.write.format("delta")
            .mode("append")
            .option("txnAppId", app_id)
            .option("txnVersion", str(version))
        )
        if self.target.kind == "table":
            writer.saveAsTable(location)
        else:
            writer.save(location)

    def _bad_rows(self, files: list[str], version: int, ingested_at: Any) -> list[tuple]:
        """Spark's own rejected rows of ``files``, as quarantine rows with line numbers."""
        F = self.F
        out: list[tuple] = []
        for path in files:
            rows = (
                self._read([path])
                .filter("_bad")
                .select(
                    F.col(_CORRUPT),
                    F.to_json(F.struct(*SPOOL_COLUMNS)).alias("j"),
                    *[F.col(c) for c in REQUIRED_COLUMNS],
                )
                .collect()
            )
            lines = _line_index(path)
            for row in rows:
                raw = row[_CORRUPT]
                if raw is not None:
                    reason = _spark_reason(raw)
                    line_no = lines.get(raw.rstrip("\n"))
                    text = raw
                else:
                    missing = [k for k in REQUIRED_COLUMNS if not row[k]]
                    reason = (
                        missing_required_reason(missing[0]) if missing else bad_ts_reason(row["ts"])
                    )
                    line_no = _find_line(path, row["record_id"], row["ts"])
                    text = row["j"]
                out.append(
                    (
                        os.path.basename(path),
                        line_no,
                        reason,
                        text[:RAW_LIMIT],
                        version,
                        ingested_at,
                    )
                )
        return out

    def write_batch(self, prepared: Prepared, app_id: str) -> Outcome:
        from pyspark.sql import Observation

        F = self.F
        with flush_job_group(self.spark):
            before = self.table_version()
            after: int | None
            obs = Observation("laketrace_flush")
            rows: list[tuple] = []
            if prepared.readable:
                df = self._read(prepared.readable).observe(
                    obs,
                    F.count_if("_bad").alias("bad"),
                    F.concat_ws("\n", F.collect_set(F.when(F.col("_bad"), F.col("_file")))).alias(
                        "files"
                    ),
                )
                self._append(
                    self._final(df, prepared.ingested_at),
                    self.target.location,
                    app_id,
                    prepared.version,
                )
                last = self._table(self.target.location, self.target.kind).history(1).first()
                after = int(last["version"])
                skipped = after == before
                if skipped:
                    # Delta skipped the write (a re-run after a crash): look for bad lines again
                    bad_files = sorted(
                        r[0]
                        for r in self._read(prepared.readable)
                        .filter("_bad")
                        .select("_file")
                        .distinct()
                        .collect()
                    )
                    written = 0
                else:
                    metrics = obs.get
                    bad_files = [f for f in (metrics.get("files") or "").split("\n") if f]
                    written = int((last["operationMetrics"] or {}).get("numOutputRows", 0))
                by_uri = {_uri_key(p): p for p in prepared.readable}
                local = [by_uri.get(_uri_key(f), f) for f in bad_files]
                rows = self._bad_rows(local, prepared.version, prepared.ingested_at)
            else:  # only foreign files in this batch: nothing for the main table
                after, skipped, written = before, False, 0
            rows += [
                (
                    r.source_file,
                    r.line_no,
                    r.reason,
                    r.raw_line,
                    prepared.version,
                    prepared.ingested_at,
                )
                for r in prepared.quarantine
            ]
            if rows:
                self._ensure_quarantine()
                qdf = self.spark.createDataFrame(rows, spark_schema(quarantine=True))
                self._append(qdf, self.target.quarantine, app_id + ":q", prepared.version)
                fault("during_quarantine")
        return Outcome(written, after, skipped, quarantined=len(rows))


def _line_index(path: str) -> dict[str, int]:
    """Line text -> first 1-based line number, for matching Spark's corrupt records."""
    out: dict[str, int] = {}
    with open_spool_file(path) as fh:
        for n, raw in enumerate(fh, 1):
            out.setdefault(raw.decode("utf-8", "replace").rstrip("\n"), n)
    return out


def _find_line(path: str, record_id: Any, ts: Any) -> int | None:
    """The line of a parseable-but-rejected record (matched on record_id and ts)."""
    with open_spool_file(path) as fh:
        for n, raw in enumerate(fh, 1):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("record_id") == record_id and obj.get("ts") == ts:
                return n
    return None


def _spark_reason(raw: str) -> str:
    text = raw if raw.endswith("\n") else raw + "\n"
    return validate_line(text.encode("utf-8")) or "Spark could not parse the line with the schema"


def _uri_key(path: str) -> str:
    text = str(path)
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.lstrip("/")


def _check_schema(location: str, expected: Any, existing: Any) -> None:
    check_columns(
        location,
        {f.name: f.dataType.simpleString() for f in expected.fields},
        {f.name: f.dataType.simpleString() for f in existing.fields},
        "Flush to a new table, or migrate it to laketrace.schema.spark_schema().",
    )
