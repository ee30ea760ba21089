"""The one schema definition of the lake record and the Delta table.

Every other representation is derived from `COLUMNS`: the Spark `StructType`
(`spark_schema`), the Arrow schema (`arrow_schema`), the DuckDB types the delta-rs writer
reads spool JSON with (`duckdb_columns`), the fields every line must have
(`REQUIRED_COLUMNS`, used by validation and by both writers) and the Markdown table in the
README (`schema_markdown`). `SPARK_LOG_SCHEMA` is Spark's own structured
log schema (``pyspark.logger.SPARK_LOG_SCHEMA``), of which ours is a superset.

>>> from laketrace.schema import COLUMN_NAMES
>>> COLUMN_NAMES[:3]
('ts', 'date', 'level')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import pyarrow
    from pyspark.sql.types import DataType, StructType

# A tiny type language: a primitive name, ("array", T), ("map", K, V) or ("struct", fields).
Type = Union[str, tuple]

STACK_FRAME: Type = (
    "struct",
    (("class", "string"), ("method", "string"), ("file", "string"), ("line", "string")),
)
EXCEPTION: Type = (
    "struct",
    (("class", "string"), ("msg", "string"), ("stacktrace", ("array", STACK_FRAME))),
)
CONTEXT: Type = ("map", "string", "string")


@dataclass(frozen=True)
class Column:
    """One column of the lake table: name, type, where it lives and what it means."""

    name: str
    type: Type
    doc: str
    in_spool: bool = True
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        "ts",
        "timestamp",
        "event time, UTC, microseconds (ISO-8601 with `Z` in the spool)",
        required=True,
    ),
    Column("date", "date", "UTC date of `ts` (table only; derived at flush)", in_spool=False),
    Column("level", "string", "`TRACE`..`CRITICAL`", required=True),
    Column("level_no", "int", "5, 10, 20, 25, 30, 40, 50"),
    Column("logger", "string", "logger name"),
    Column("msg", "string", "formatted message"),
    Column("context", CONTEXT, "bound, contextualized and call fields; non-strings JSON-encoded"),
    Column("exception", EXCEPTION, "`struct<class,msg,stacktrace>` in Spark's shape; null if none"),
    Column("traceback", "string", "the formatted Python traceback, null when none"),
    Column(
        "source",
        "string",
        "`driver`, `executor`, `listener`, `stdlib` or `spark` (the driver JVM's log)",
    ),
    Column("run_id", "string", "one id per driver run (Spark app id when there is one)"),
    Column(
        "record_id",
        "string",
        "unique per record across runs, hosts, processes, attempts",
        required=True,
    ),
    Column("host", "string", "host name where the record was emitted"),
    Column("pid", "int", "process id where the record was emitted"),
    Column("thread_name", "string", "thread name where the record was emitted"),
    Column("module", "string", "call site: module"),
    Column("function", "string", "call site: function"),
    Column("line", "int", "call site: line number"),
    Column("runtime", "string", "`databricks`, `fabric`, `synapse`, `local`, ..."),
    Column("app_id", "string", "Spark application id, null without Spark"),
    Column("app_name", "string", "Spark application name, null without Spark"),
    Column("job_id", "int", "Spark job id when known"),
    Column("stage_id", "int", "Spark stage id when known"),
    Column("partition_id", "int", "Spark partition id when known"),
    Column("task_attempt", "int", "Spark task attempt number when known"),
    Column("job_group", "string", "Spark job group when known"),
    Column("notebook", "string", "notebook path or name when known"),
    Column("ingested_at", "timestamp", "set at flush", in_spool=False),
)

#: The quarantine table: spool lines the flush step could not accept, with the reason.
QUARANTINE_COLUMNS: tuple[Column, ...] = (
    Column("source_file", "string", "spool file the line came from"),
    Column("line_no", "int", "1-based line number in that file"),
    Column("reason", "string", "why the line was not accepted"),
    Column("raw_line", "string", "the line as it was (truncated to 64 KiB)"),
    Column("flush_batch", "bigint", "the flush batch (Delta txnVersion) that quarantined it"),
    Column("quarantined_at", "timestamp", "when the flush step quarantined it"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
SPOOL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.in_spool)
#: fields every spool line must have, non-empty; a line without one is quarantined
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
PARTITION_COLUMNS: tuple[str, ...] = ("date",)

SPARK_LOG_SCHEMA = (
    "ts TIMESTAMP, "
    "level STRING, "
    "msg STRING, "
    "context map<STRING, STRING>, "
    "exception STRUCT<class STRING, msg STRING, "
    "stacktrace ARRAY<STRUCT<class STRING, method STRING, file STRING, line STRING>>>, "
    "logger STRING"
)


def _ddl(t: Type) -> str:
    if isinstance(t, str):
        return t.upper()
    kind = t[0]
    if kind == "array":
        return f"ARRAY<{_ddl(t[1])}>"
    if kind == "map":
        return f"MAP<{_ddl(t[1])}, {_ddl(t[2])}>"
    return "STRUCT<" + ", ".join(f"`{n}`: {_ddl(ft)}" for n, ft in t[1]) + ">"


def _spark_type(t: Type) -> DataType:
    from pyspark.sql import types as T

    prim = {
        "string": T.StringType,
        "int": T.IntegerType,
        "bigint": T.LongType,
        "timestamp": T.TimestampType,
        "date": T.DateType,
    }
    if isinstance(t, str):
        return prim[t]()
    if t[0] == "array":
        return T.ArrayType(_spark_type(t[1]), True)
    if t[0] == "map":
        return T.MapType(_spark_type(t[1]), _spark_type(t[2]), True)
    return T.StructType([T.StructField(n, _spark_type(ft), True) for n, ft in t[1]])


def _columns(spool: bool, quarantine: bool) -> tuple[Column, ...]:
    if quarantine:
        return QUARANTINE_COLUMNS
    return tuple(c for c in COLUMNS if c.in_spool or not spool)


def spark_schema(*, spool: bool = False, quarantine: bool = False) -> StructType:
    """The Spark `StructType` of the table, or of the spool lines with ``spool=True``.

    Reading a spool: ``spark.read.schema(spark_schema(spool=True)).json(log_dir)``.
    """
    try:
        from pyspark.sql import types as T
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "laketrace.schema.spark_schema needs pyspark: use the cluster's own pyspark "
            "or pip install 'laketrace[spark]'"
        ) from exc
    return T.StructType(
        [T.StructField(c.name, _spark_type(c.type), True) for c in _columns(spool, quarantine)]
    )


def _arrow_type(t: Type, pa: Any) -> pyarrow.DataType:
    prim = {
        "string": pa.string,
        "int": pa.int32,
        "bigint": pa.int64,
        "timestamp": lambda: pa.timestamp("us", tz="UTC"),
        "date": pa.date32,
    }
    if isinstance(t, str):
        return prim[t]()
    if t[0] == "array":
        return pa.list_(pa.field("element", _arrow_type(t[1], pa), True))
    if t[0] == "map":
        return pa.map_(_arrow_type(t[1], pa), _arrow_type(t[2], pa))
    return pa.struct([pa.field(n, _arrow_type(ft, pa), True) for n, ft in t[1]])


def arrow_schema(*, spool: bool = False, quarantine: bool = False) -> pyarrow.Schema:
    """The Arrow schema of the table (what the delta-rs writer writes)."""
    try:
        import pyarrow as pa
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "laketrace.schema.arrow_schema needs pyarrow: pip install 'laketrace[delta]'"
        ) from exc
    return pa.schema(
        [pa.field(c.name, _arrow_type(c.type, pa), True) for c in _columns(spool, quarantine)]
    )


def _duck_type(t: Type) -> str:
    if isinstance(t, str):
        # timestamps stay text: the writer parses them itself (TRY_CAST), so a bad one is
        # a quarantined line rather than a failed read
        return {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}.get(t, "VARCHAR")
    if t[0] == "map":
        return f"MAP({_duck_type(t[1])}, {_duck_type(t[2])})"
    if t[0] == "array":
        return f"{_duck_type(t[1])}[]"
    return "STRUCT(" + ", ".join(f'"{n}" {_duck_type(ft)}' for n, ft in t[1]) + ")"


def duckdb_columns() -> dict[str, str]:
    """The DuckDB type of each spool field, for ``read_json(columns=...)``."""
    return {c.name: _duck_type(c.type) for c in COLUMNS if c.in_spool}


def schema_markdown() -> str:
    """The Markdown table of columns used in the README."""
    rows = ["| column | type | meaning |", "|---|---|---|"]
    for c in COLUMNS:
        rows.append(f"| `{c.name}` | `{_ddl(c.type).lower()}` | {c.doc} |")
    return "\n".join(rows)
