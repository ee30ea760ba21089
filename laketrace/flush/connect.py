"""The Spark Connect writer: the client validates and converts, the server commits.

On Spark Connect (Databricks serverless and shared compute, ``SparkSession.builder.remote``)
Python has no SparkContext, py4j or ``DeltaTable`` API, and the server cannot read the
client's spool files. So the client does what the delta-rs writer does with them (the
same staging, byte scan, DuckDB or Python parsing and the one rule: this class *is* the
delta-rs writer's read side) and sends each batch as Arrow through
``spark.createDataFrame``; the server appends it with Delta idempotent writes
(``txnAppId``/``txnVersion``) and LakeTrace's commit metadata (``userMetadata``).
Everything else is SQL any Connect server runs: ``CREATE TABLE IF NOT EXISTS``,
``DESCRIBE DETAIL`` (the table id) and ``DESCRIBE HISTORY`` (versions, commits).

As with delta-rs, the quarantine commit comes first, so a batch whose main commit is in the
table has its quarantine rows in too. Delta skips a main txn committed before; the writer
sees that as no new commit of this batch in the history. Every operation carries the
``laketrace-flush`` tag (`ConnectWriter.scope`): ``spark.interruptTag`` reaches it and
the UI can tell the flush's jobs from the user's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from .. import runtime as _runtime
from ..schema import spark_schema
from ..targets import Target
from .commits import Commit, History, parse_meta, read_back
from .delta_rs import DeltaRsWriter
from .duck_read import DuckReader
from .faults import fault
from .spark_delta import check_schema, commits_from_rows, delta_append
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

#: the Spark Connect operation tag of every flush operation
FLUSH_TAG = _runtime.FLUSH_JOB_GROUP


def _require() -> Any:
    try:
        import pyarrow
        import pyarrow.compute
    except ImportError as exc:  # pragma: no cover - pyspark[connect] needs pyarrow
        raise ImportError(
            "flushing through Spark Connect needs pyarrow (pip install 'pyspark[connect]'; "
            "Databricks and Fabric ship it)"
        ) from exc
    return pyarrow


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        return None
    return duckdb


@contextlib.contextmanager
def flush_tag(spark: Any) -> Iterator[None]:
    """Tag this thread's Connect operations with `FLUSH_TAG` inside the block (re-entrant)."""
    try:
        added = FLUSH_TAG not in spark.getTags()
        if added:
            spark.addTag(FLUSH_TAG)
    except Exception:  # an old client without tags: the flush runs untagged
        added = False
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(Exception):
                spark.removeTag(FLUSH_TAG)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sql_str(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ConnectWriter(DeltaRsWriter):
    """Writes batches through a Spark Connect session to a path or catalog-table target."""

    name = "connect"

    def __init__(self, spark: Any, target: Target) -> None:
        self.spark = spark
        self.target = target
        self.pa = _require()
        self._cache = None
        self.reader = DuckReader(_duckdb(), self.pa)
        self.prefetch = None  # no read-ahead: each batch is one round trip to the server
        #: locations seen to be Delta tables (a table does not go away during a flush)
        self._known: dict[str, dict[str, Any]] = {}

    def scope(self) -> Any:
        """Every operation of the flush carries the ``laketrace-flush`` tag."""
        return flush_tag(self.spark)

    def _ref(self, location: str) -> str:
        """How SQL names ``location``: a catalog name as it is, a path as delta.`path`."""
        return location if self.target.kind == "table" else f"delta.{_quote(location)}"

    def _detail(self, location: str) -> dict[str, Any] | None:
        """``DESCRIBE DETAIL`` of the Delta table at ``location`` (None if there is none)."""
        from pyspark.errors import AnalysisException

        if location in self._known:
            return self._known[location]
        if self.target.kind == "table":
            if not self.spark.catalog.tableExists(location):
                return None
        try:
            row = self.spark.sql(f"DESCRIBE DETAIL {self._ref(location)}").first()
        except AnalysisException:  # DELTA_MISSING_DELTA_TABLE, PATH_NOT_FOUND
            return None
        if row is None or str(row["format"]).lower() != "delta":
            return None
        self._known[location] = row.asDict()
        return self._known[location]

    def _exists(self, location: str) -> bool:
        return self._detail(location) is not None

    def exists(self) -> bool:
        return self._exists(self.target.location)

    def _version(self, location: str) -> int | None:
        if not self._exists(location):
            return None
        row = self.spark.sql(f"DESCRIBE HISTORY {self._ref(location)} LIMIT 1").first()
        return int(row["version"]) if row is not None else None

    def table_version(self) -> int | None:
        return self._version(self.target.location)

    def table_id(self) -> str:
        detail = self._detail(self.target.location)
        return str(detail["id"]) if detail else ""

    def ensure_tables(self, partition_by: str | None) -> None:
        """Create the target table if needed (the quarantine table is created on first use)."""
        with self.scope():
            self._create(self.target.location, spark_schema(), partition_by, TABLE_DESCRIPTION)

    def _create(self, location: str, schema: Any, part: str | None, desc: str) -> None:
        if self._exists(location):
            have = self.spark.table(location) if self.target.kind == "table" else None
            if have is None:
                have = self.spark.read.format("delta").load(location)
            check_schema(location, schema, have.schema)
            return
        cols = ", ".join(f"{_quote(f.name)} {f.dataType.simpleString()}" for f in schema.fields)
        props = ", ".join(f"{_sql_str(k)} = {_sql_str(v)}" for k, v in TABLE_PROPERTIES.items())
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self._ref(location)} ({cols}) USING DELTA "
            + (f"PARTITIONED BY ({_quote(part)}) " if part else "")
            + f"COMMENT {_sql_str(desc)} TBLPROPERTIES ({props})"
        ).collect()

    def _commits(self, location: str, limit: int) -> list[Commit]:
        rows = (
            self.spark.sql(f"DESCRIBE HISTORY {self._ref(location)} LIMIT {int(limit)}")
            .selectExpr("version", "unix_millis(timestamp) AS ms", "operation", "userMetadata")
            .collect()
        )
        return commits_from_rows(rows)

    def latest(self, limit: int) -> list[Commit]:
        if not self.exists():
            return []
        with self.scope():
            return self._commits(self.target.location, limit)

    def history(self, since_ms: int, *, quarantine: bool = False) -> History:
        """Commits at or after ``since_ms`` (read backwards a page at a time)."""
        location = self.target.quarantine if quarantine else self.target.location
        if not self._exists(location):
            return History([], True)
        with self.scope():
            return read_back(lambda limit: self._commits(location, limit), since_ms)

    def committed(self, app_id: str, version: int, since_ms: int, *, quarantine: bool) -> bool:
        # both commits of a batch name the main txn app id in their metadata
        return self.history(since_ms, quarantine=quarantine).find(app_id, version) is not None

    def _frame(self, location: str) -> Any:
        if self.target.kind == "table":
            return self.spark.table(location)
        return self.spark.read.format("delta").load(location)

    def _existing_quarantine(self, names: list[str]) -> set[tuple[str, int | None]]:
        if not names or not self._exists(self.target.quarantine):
            return set()
        rows = (
            self._frame(self.target.quarantine)
            .filter(f"source_file IN ({', '.join(map(_sql_str, name_variants(names)))})")
            .select("source_file", "line_no")
            .collect()
        )
        return {quarantine_key(r[0], r[1]) for r in rows}

    def _absent_rows(self, df: Any, data: Any) -> Any:
        """``df`` without the record_ids the target holds already (same dates), on the server."""
        dates = [d for d in self.pa.compute.unique(data.column("date")).to_pylist() if d]
        where = " OR ".join(f"date = DATE {_sql_str(d.isoformat())}" for d in dates) or "FALSE"
        have = self._frame(self.target.location).filter(where).select("record_id").distinct()
        return df.join(have, "record_id", "left_anti").select(*data.schema.names)

    def _ours(
        self, location: str, before: int | None, app: str, batch: int
    ) -> tuple[int | None, int | None]:
        """``(rows, version)``: the rows the commit of txn (``app``, ``batch``) made since
        version ``before`` wrote (None if there is none: Delta skipped the append), and the
        table's version now."""
        after = self._version(location)
        n = (after if after is not None else -1) - (before if before is not None else -1)
        if n <= 0:
            return None, after
        rows = (
            self.spark.sql(f"DESCRIBE HISTORY {self._ref(location)} LIMIT {int(n)}")
            .select("userMetadata", "operationMetrics")
            .collect()
        )
        for r in rows:
            meta = parse_meta(r[0])
            if meta and meta["app"] == app and meta["batch"] == batch:
                return int((r[1] or {}).get("numOutputRows", 0)), after
        return None, after

    def _quarantine(self, prepared: Prepared) -> int:
        """Commit the rows the quarantine table does not hold yet; how many were new."""
        rows: list[QuarantineRow] = new_rows(
            prepared.quarantine, self._existing_quarantine(prepared.sources)
        )
        if not rows:
            return 0
        location = self.target.quarantine
        self._create(location, spark_schema(quarantine=True), None, QUARANTINE_DESCRIPTION)
        qdf = self.spark.createDataFrame(
            self._quarantine_table(prepared, rows), spark_schema(quarantine=True)
        )
        delta_append(
            qdf,
            location,
            table=self.target.kind == "table",
            app_id=prepared.app_id + ":q",
            version=prepared.version,
            meta=prepared.q_meta,
        )
        return len(rows)

    def _main(self, prepared: Prepared, data: Any) -> tuple[bool, int, int | None]:
        """Append the batch's good records; ``(skipped, written, table version)``."""
        location = self.target.location
        meta = json.loads(prepared.main_meta) if prepared.main_meta else {}
        meta["quarantined"] = len(prepared.quarantine)  # its quarantine commit is in
        prepared.main_meta = json.dumps(meta, separators=(",", ":"))
        df = self.spark.createDataFrame(data, spark_schema())
        if prepared.idempotent and data.num_rows:
            df = self._absent_rows(df, data)
        before = self._version(location)
        delta_append(
            df,
            location,
            table=self.target.kind == "table",
            app_id=prepared.app_id,
            version=prepared.version,
            meta=prepared.main_meta,
        )
        written, version = self._ours(location, before, prepared.app_id, prepared.version)
        if written is None:  # Delta skipped it: the txn was committed before
            return True, 0, version
        return False, written, version

    def write_batch(self, prepared: Prepared) -> Outcome:
        with self.scope():
            data = None if prepared.main_done else self._arrow(prepared)  # may quarantine more
            quarantined = 0
            if prepared.quarantine and not prepared.q_done:
                quarantined = self._quarantine(prepared)
                fault("during_quarantine")
            fault("between_commits")
            if data is None:
                return Outcome(0, self.table_version(), True, quarantined)
            skipped, written, version = self._main(prepared, data)
            return Outcome(written, version, skipped, quarantined)
