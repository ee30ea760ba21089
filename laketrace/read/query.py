"""SQL over the log table, with or without Spark, and the ``_errors`` / ``_runs`` views.

Without Spark the table is read with delta-rs as an Arrow dataset and queried with DuckDB
(no extension downloads); with Spark, ``spark.sql`` runs over the Delta table. Either way
the table is visible as ``logs``, with ``logs_errors``, ``logs_runs`` and ``logs_spark``
(Spark's own driver warnings and errors) beside it (and ``logs_quarantine`` when it exists).

>>> import laketrace
>>> laketrace.query("SELECT level, count(*) FROM logs GROUP BY level",
...                 path="./lakehouse/laketrace_logs")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from .. import runtime as _runtime
from ..errors import ConfigError, StorageError, raise_clean
from ..storage import check_storage_options, redact_text, storage_for, store_errors
from ..targets import Target, resolve_target

_LEVEL_COUNTS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def errors_sql(source: str) -> str:
    """SQL of the errors view: ERROR and above, exception fields flattened."""
    return (
        "SELECT ts, date, level, logger, msg, exception['class'] AS exception_class, "
        "exception['msg'] AS exception_msg, "
        # listener failure records carry Spark's reason (with the Python traceback) in context
        "coalesce(traceback, context['reason']) AS traceback, source, run_id, app_id, app_name, "
        "job_id, job_group, stage_id, partition_id, task_attempt, notebook, host, module, "
        f"function, line, context, record_id FROM {source} WHERE level_no >= 40"
    )


def spark_sql(source: str) -> str:
    """SQL of the Spark view: Spark's own driver warnings and errors (``source = 'spark'``,
    captured by the listener's log appender), one row per run, level, logger and message."""
    return (
        "SELECT run_id, level, max(level_no) AS level_no, logger, msg, count(*) AS n, "
        "min(ts) AS first_ts, max(ts) AS last_ts, max(exception['class']) AS exception_class "
        f"FROM {source} WHERE source = 'spark' AND level_no >= 30 "
        "GROUP BY run_id, level, logger, msg"
    )


def runs_sql(source: str, *, dialect: str) -> str:
    """SQL of the runs view: one row per run_id with time span and counts per level."""
    if dialect == "spark":
        duration = "CAST(unix_micros(max(ts)) - unix_micros(min(ts)) AS DOUBLE) / 1e6"
    else:
        duration = "CAST(epoch_us(max(ts)) - epoch_us(min(ts)) AS DOUBLE) / 1e6"
    counts = ", ".join(f"count_if(level = '{lvl}') AS {lvl.lower()}_count" for lvl in _LEVEL_COUNTS)
    return (
        "SELECT run_id, max(app_id) AS app_id, max(app_name) AS app_name, "
        "max(runtime) AS runtime, min(ts) AS start_ts, max(ts) AS end_ts, "
        f"{duration} AS duration_s, count(*) AS records, {counts}, "
        "min_by(msg, ts) FILTER (WHERE level_no >= 40) AS first_error, "
        "count_if(source = 'spark' AND level_no >= 40) AS spark_error_count, "
        "count_if(source = 'spark' AND level = 'WARNING') AS spark_warning_count "
        f"FROM {source} GROUP BY run_id"
    )


def create_views(spark: Any, table: str) -> dict[str, str]:
    """Create ``<table>_errors``, ``<table>_runs`` and ``<table>_spark`` views for a catalog
    table or a path.

    For a catalog table the views are created next to it (``CREATE OR REPLACE VIEW``);
    for a path (``./lakehouse/laketrace_logs``, ``abfss://...``) they are temporary views
    named after the last path component. Returns ``{"errors": name, "runs": name, "spark":
    name}``.

    >>> laketrace.create_views(spark, "main.ops.app_logs")["runs"]  # doctest: +SKIP
    'main.ops.app_logs_runs'
    """
    is_path = "/" in table or table.startswith(("abfss:", "dbfs:", "s3:", "file:"))
    if is_path:
        location = os.path.abspath(table) if "://" not in table and ":" not in table else table
        source = f"delta.`{location}`"
        base = os.path.basename(location.rstrip("/")) or "laketrace_logs"
        kind = "TEMP VIEW"
    else:
        source = table
        base = table
        kind = "VIEW"
    names = {"errors": f"{base}_errors", "runs": f"{base}_runs", "spark": f"{base}_spark"}
    spark.sql(f"CREATE OR REPLACE {kind} {names['errors']} AS {errors_sql(source)}")
    spark.sql(f"CREATE OR REPLACE {kind} {names['runs']} AS {runs_sql(source, dialect='spark')}")
    spark.sql(f"CREATE OR REPLACE {kind} {names['spark']} AS {spark_sql(source)}")
    return names


def _target(path: Any, table: str | None, spark: Any) -> Target:
    if table is not None and spark is None:
        raise ConfigError(
            f"reading the catalog table {table!r} needs Spark: pass spark=... (--spark on the "
            "command line), or path= (--path) with the table's Delta location to read it "
            "with DuckDB."
        )
    return resolve_target(
        path=path, table=table, runtime=_runtime.detect_runtime(), has_spark=spark is not None
    )


def query(
    sql: str,
    *,
    path: str | os.PathLike[str] | None = None,
    table: str | None = None,
    spark: Any = None,
    storage_options: Mapping[str, str] | None = None,
) -> Any:
    """Run ``sql`` over the log table (visible as ``logs``, ``logs_errors``, ``logs_runs``,
    ``logs_spark``).

    Returns a Spark DataFrame with ``spark``, else a `pyarrow.Table` (DuckDB over delta-rs).
    ``storage_options`` reach an object-store table without Spark (as for
    `laketrace.flush_to_delta`; never printed).
    """
    options = check_storage_options(storage_options, what="query: storage_options")
    target = _target(path, table, spark)
    if spark is not None:
        src = (
            spark.table(target.location)
            if target.kind == "table"
            else (spark.read.format("delta").load(target.location))
        )
        src.createOrReplaceTempView("logs")
        spark.sql(f"CREATE OR REPLACE TEMP VIEW logs_errors AS {errors_sql('logs')}")
        spark.sql(f"CREATE OR REPLACE TEMP VIEW logs_runs AS {runs_sql('logs', dialect='spark')}")
        spark.sql(f"CREATE OR REPLACE TEMP VIEW logs_spark AS {spark_sql('logs')}")
        return spark.sql(sql)
    uri = target.local_path or target.location
    # the store's errors, not the SQL's (those are the user's to read as DuckDB says them)
    with store_errors(uri, options, doing="reading"):
        con = duckdb_over(target, storage_options=options)
    with _masked_errors(options):  # the data files are read here, through the store
        result = con.sql(sql)
        if result is None:
            return None
        out = result.arrow()
        return out.read_all() if hasattr(out, "read_all") else out


@contextlib.contextmanager
def _masked_errors(options: Mapping[str, str] | None) -> Iterator[None]:
    """Errors of a query keep their type and text, minus secrets: a store error met while
    DuckDB scans the files can carry a request URL with a SAS signature or a token."""
    try:
        yield
        return
    except Exception as exc:
        text = str(exc)
        clean = redact_text(text, options)
        if clean == text:
            raise
        try:
            masked: Exception = type(exc)(clean)
        except Exception:
            masked = StorageError(clean)
    raise_clean(masked)  # the unmasked original is not kept as context


def duckdb_over(target: Target, *, storage_options: Mapping[str, str] | None = None) -> Any:
    """A DuckDB connection with ``logs`` (and friends) over the Delta table, via delta-rs."""
    try:
        import duckdb
        from deltalake import DeltaTable
    except ImportError as exc:
        raise ImportError(
            "querying without Spark needs DuckDB and delta-rs: "
            "pip install 'laketrace[delta,query]' (or pass spark=...)"
        ) from exc
    uri = target.local_path or target.location
    get = storage_for(uri, storage_options)
    opts = get() if get is not None else None
    if target.kind == "table" or not DeltaTable.is_deltatable(uri, opts):
        raise ConfigError(
            f"no Delta table at {target.display}; run a flush first (laketrace flush ...) or "
            "pass the right --path."
        )
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.register("logs", delta_dataset(uri, storage_options=opts))
    con.execute(f"CREATE OR REPLACE VIEW logs_errors AS {errors_sql('logs')}")
    con.execute(f"CREATE OR REPLACE VIEW logs_runs AS {runs_sql('logs', dialect='duckdb')}")
    con.execute(f"CREATE OR REPLACE VIEW logs_spark AS {spark_sql('logs')}")
    q_uri = uri.rstrip("/") + "_quarantine"
    if DeltaTable.is_deltatable(q_uri, opts):
        con.register("logs_quarantine", delta_dataset(q_uri, storage_options=opts))
    return con


def delta_dataset(uri: str, *, storage_options: Mapping[str, str] | None = None) -> Any:
    """The Delta table at ``uri`` as a pyarrow dataset (delta-rs picks the live files).

    For a local table the files are read through pyarrow's own LocalFileSystem rather than
    delta-rs' Python filesystem wrapper: buffers of the wrapper are released by taking the
    GIL, and a scan's read-ahead thread doing that while the interpreter shuts down aborts
    the whole process ("terminate called without an active exception", apache/arrow#49942,
    still in pyarrow 26). Remote tables keep delta-rs' filesystem (it has the credentials).
    """
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=dict(storage_options) if storage_options else None)
    local = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" in local:
        return table.to_pyarrow_dataset()
    import pyarrow.fs as pa_fs

    root = pa_fs.SubTreeFileSystem(os.path.abspath(local), pa_fs.LocalFileSystem())
    return table.to_pyarrow_dataset(filesystem=root)


def format_table(table: Any, *, max_rows: int = 50, max_width: int = 60) -> str:
    """Render a pyarrow Table as a plain text grid (used by ``laketrace sql``)."""
    rows = table.slice(0, max_rows).to_pylist()
    names = table.column_names
    cells = [[_cell(r[n], max_width) for n in names] for r in rows]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    if table.num_rows > max_rows:
        out.append(f"... {table.num_rows - max_rows} more row(s)")
    out.append(f"({table.num_rows} row(s))")
    return "\n".join(out)


def _cell(value: Any, width: int) -> str:
    text = "NULL" if value is None else str(value).replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"
