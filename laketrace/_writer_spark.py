"""The Spark writer (delta-spark): reads spool JSON with an explicit schema, appends with
Delta idempotent writes (``txnAppId``/``txnVersion``), so a retried batch is skipped by
Delta itself. It only reads the table's latest commit, never scans the table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .flush import (
    TABLE_DESCRIPTION,
    TABLE_PROPERTIES,
    Outcome,
    Prepared,
    SchemaMismatchError,
    _fault,
)
from .schema import COLUMN_NAMES, spark_schema

if TYPE_CHECKING:
    from .targets import Target

JOB_GROUP = "laketrace-flush"
_CORRUPT = "_corrupt_record"


@contextlib.contextmanager
def flush_job_group(spark: Any) -> Iterator[None]:
    """Tag Spark jobs started inside the block with LakeTrace's job group (restored after)."""
    sc = spark.sparkContext
    keys = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")
    old = {k: sc.getLocalProperty(k) for k in keys}
    sc.setLocalProperty("spark.jobGroup.id", JOB_GROUP)
    sc.setLocalProperty("spark.job.description", "LakeTrace: flush spool to Delta")
    try:
        yield
    finally:
        for k, v in old.items():
            sc.setLocalProperty(k, v)


class SparkWriter:
    """Writes batches with Spark + delta-spark to a path or catalog-table target."""

    name = "spark"
    compressions = (".gz", ".bz2")

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
        self._cached: Any = None
        self._cached_paths: list[str] = []

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
        kind = self.target.kind
        with flush_job_group(self.spark):
            self._ensure(
                self.target.location, kind, spark_schema(), partition_by, TABLE_DESCRIPTION
            )
            self._ensure(
                self.target.quarantine,
                kind,
                spark_schema(quarantine=True),
                None,
                "LakeTrace quarantine: spool lines the flush step did not accept.",
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
        bad = (
            F.col(_CORRUPT).isNotNull()
            | F.col("ts").isNull()
            | F.col("record_id").isNull()
            | F.col("level").isNull()
            | F.expr("try_to_timestamp(ts)").isNull()
        )
        return df.withColumn("_file", F.col("_metadata.file_path")).withColumn("_bad", bad)

    def problem_files(self, paths: list[str]) -> set[str]:
        """Files with any line Spark could not parse or that lacks a required field."""
        from pyspark import StorageLevel

        if not paths:
            return set()
        with flush_job_group(self.spark):
            df = self._read(paths).persist(StorageLevel.MEMORY_AND_DISK)
            rows = df.filter("_bad").select("_file").distinct().collect()
        self._cached, self._cached_paths = df, list(paths)
        by_uri = {_uri_key(p): p for p in paths}
        return {by_uri.get(_uri_key(r[0]), r[0]) for r in rows}

    def _good(self, prepared: Prepared) -> Any:
        F = self.F
        if self._cached is not None and self._cached_paths == prepared.readable:
            df = self._cached
        else:
            df = self._read(prepared.readable)
        cols = []
        for name in COLUMN_NAMES:
            if name == "ts":
                cols.append(F.expr("to_timestamp(ts)").alias("ts"))
            elif name == "date":
                cols.append(F.expr("to_date(substring(ts, 1, 10))").alias("date"))
            elif name == "ingested_at":
                cols.append(F.lit(prepared.ingested_at).cast("timestamp").alias("ingested_at"))
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

    def write_batch(self, prepared: Prepared, app_id: str) -> Outcome:
        with flush_job_group(self.spark):
            try:
                if prepared.quarantine:
                    rows = [
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
                    qdf = self.spark.createDataFrame(rows, spark_schema(quarantine=True))
                    self._append(qdf, self.target.quarantine, app_id + ":q", prepared.version)
                    _fault("during_quarantine")
                before = self.table_version()
                self._append(self._good(prepared), self.target.location, app_id, prepared.version)
                last = self._table(self.target.location, self.target.kind).history(1).first()
            finally:
                if self._cached is not None:
                    self._cached.unpersist()
                    self._cached = None
        after = int(last["version"])
        if after == before:  # Delta skipped the batch: this txnVersion was already committed
            return Outcome(0, after, True)
        metrics = last["operationMetrics"] or {}
        return Outcome(int(metrics.get("numOutputRows", 0)), after, False)


def _uri_key(path: str) -> str:
    text = str(path)
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.lstrip("/")


def _check_schema(location: str, expected: Any, existing: Any) -> None:
    want = {f.name: f.dataType.simpleString() for f in expected.fields}
    have = {f.name: f.dataType.simpleString() for f in existing.fields}
    if want == have:
        return
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    raise SchemaMismatchError(
        f"the Delta table {location} exists with a different schema; nothing was written. "
        f"Missing columns: {missing or 'none'}; unexpected columns: {extra or 'none'}; "
        f"different types: {[f'{k}: {have[k]} (expected {want[k]})' for k in changed] or 'none'}. "
        "Flush to a new table, or migrate it to laketrace.schema.spark_schema()."
    )
