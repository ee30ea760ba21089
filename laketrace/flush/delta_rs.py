"""The delta-rs writer (no JVM): DuckDB parses spool JSON to Arrow, `deltalake` commits.

delta-rs does not skip a duplicate transaction version by itself, so before each commit
the table's recorded version for the app id is read (`DeltaTable.transaction_version`)
and a batch at or below it is skipped. A concurrent commit conflict is retried after
re-reading that version. Without DuckDB, lines are parsed in Python (slower).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ..errors import FlushError
from ..schema import COLUMNS, REQUIRED_COLUMNS, arrow_schema, duckdb_columns
from ..targets import Target
from .faults import fault
from .writer import (
    QUARANTINE_DESCRIPTION,
    TABLE_DESCRIPTION,
    TABLE_PROPERTIES,
    Outcome,
    Prepared,
    check_columns,
)

if TYPE_CHECKING:
    import pyarrow as pa

_COMMIT_RETRIES = 5
_DUCK_COLUMNS = duckdb_columns()
# a row DuckDB parsed but the flush must not load: a required field missing or empty, or
# a ts that is not a timestamp (the same rule as laketrace.flush.validate)
_BAD_ROW = " OR ".join(
    ["TRY_CAST(ts AS TIMESTAMP) IS NULL"]
    + [f'"{c}" IS NULL OR "{c}" = \'\'' for c in REQUIRED_COLUMNS]
)


def _require() -> tuple[Any, Any]:
    try:
        import deltalake
        import pyarrow
        import pyarrow.compute
    except ImportError as exc:
        raise ImportError(
            "flushing without Spark needs delta-rs: pip install 'laketrace[delta]' "
            "(or pass a SparkSession to flush_to_delta)"
        ) from exc
    return deltalake, pyarrow


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        return None
    return duckdb


class DeltaRsWriter:
    """Writes batches with delta-rs to a path target."""

    name = "delta-rs"
    compressions: tuple[str, ...] = (".gz",)

    def __init__(self, target: Target) -> None:
        self.target = target
        self._cache: tuple[list[str], set[str], Any] | None = None
        self.dl, self.pa = _require()
        self.uri = target.local_path or target.location
        self.q_uri = target.quarantine_local or target.quarantine
        self.duck = _duckdb()
        self._con = None
        # DuckDB reports bad input as duckdb.Error when it fails up front, or through
        # Arrow (OSError / ArrowException) when it fails while streaming the result
        self._read_errors: tuple[type[BaseException], ...] = (
            OSError,
            self.pa.lib.ArrowException,
        ) + ((self.duck.Error,) if self.duck is not None else ())

    def _connect(self) -> Any:
        if self._con is None and self.duck is not None:
            self._con = self.duck.connect(
                config={
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                    "threads": max(1, os.cpu_count() or 1),
                }
            )
        return self._con

    def exists(self) -> bool:
        return self.dl.DeltaTable.is_deltatable(self.uri)

    def table_version(self) -> int | None:
        return self.dl.DeltaTable(self.uri).version() if self.exists() else None

    def ensure_tables(self, partition_by: str | None) -> None:
        """Create the target table if needed (the quarantine table is created on first use)."""
        self._ensure(self.uri, arrow_schema(), ["date"] if partition_by else None, main=True)

    def _ensure(self, uri: str, schema: pa.Schema, parts: list[str] | None, *, main: bool) -> None:
        DeltaTable = self.dl.DeltaTable
        if DeltaTable.is_deltatable(uri):
            existing = self.pa.schema(DeltaTable(uri).schema().to_arrow())
            _check_schema(uri, schema, existing)
            return
        if uri.startswith("/") or "://" not in uri:
            os.makedirs(uri, exist_ok=True)
        desc = TABLE_DESCRIPTION if main else QUARANTINE_DESCRIPTION
        DeltaTable.create(
            uri,
            schema=schema,
            partition_by=parts,
            mode="ignore",
            name=None,
            description=desc,
            configuration=dict(TABLE_PROPERTIES),
        )

    def problem_files(self, paths: list[str]) -> set[str]:
        """Files DuckDB cannot read strictly, or with rows lacking a required field.

        The successful read is kept, so a batch without problems is parsed only once.
        """
        self._cache = None
        con = self._connect()
        if con is None:
            return set(paths)  # no DuckDB: validate every line in Python
        if not paths:
            return set()
        try:
            table = self._select(paths)
        except self._read_errors:
            bad = set()
            for p in paths:
                try:
                    part = self._select([p])
                    if self.pa.compute.any(part.column("_bad")).as_py():
                        bad.add(p)
                except self._read_errors:
                    bad.add(p)
            return bad
        flagged = table.filter(table.column("_bad"))
        bad_files = set(flagged.column("_file").unique().to_pylist())
        self._cache = (list(paths), bad_files, table)
        return {p for p in paths if p in bad_files}

    def _read_sql(self, paths: list[str]) -> str:
        files = "[" + ", ".join(_sql_str(p) for p in paths) + "]"
        cols = (
            "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in _DUCK_COLUMNS.items()) + "}"
        )
        return (
            f"read_json({files}, columns={cols}, format='newline_delimited', "
            "filename=true, maximum_object_size=134217728)"
        )

    def _select(self, paths: list[str]) -> pa.Table:
        """Parse ``paths`` into table columns plus ``_file`` and a ``_bad`` flag."""
        select = ", ".join(
            "TRY_CAST(ts AS TIMESTAMP) AS ts, TRY_CAST(SUBSTR(ts, 1, 10) AS DATE) AS date"
            if c.name == "ts"
            else "NULL::TIMESTAMP AS ingested_at"
            if c.name == "ingested_at"
            else f'"{c.name}"'
            for c in COLUMNS
            if c.name != "date"
        )
        sql = (
            f"SELECT {select}, filename AS _file, ({_BAD_ROW}) AS _bad FROM {self._read_sql(paths)}"
        )
        out = self._connect().sql(sql).arrow()
        return out.read_all() if hasattr(out, "read_all") else out

    def _arrow(self, prepared: Prepared) -> pa.Table:
        pa = self.pa
        schema = arrow_schema()
        if not prepared.readable:
            return schema.empty_table()
        con = self._connect()
        if con is not None:
            cache = getattr(self, "_cache", None)
            parts = []
            todo = list(prepared.readable)
            if cache is not None:
                cached_paths, bad_files, table = cache
                keep = [p for p in todo if p in cached_paths and p not in bad_files]
                if keep:
                    mask = pa.compute.is_in(table.column("_file"), pa.array(keep))
                    parts.append(table.filter(mask) if len(keep) < len(cached_paths) else table)
                todo = [p for p in todo if p not in keep]
            if todo:  # cleaned copies of problem files (or no cache)
                parts.append(self._select(todo))
            table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            table = table.drop_columns(["_file", "_bad"])
            self._cache = None
        else:
            table = _python_table(prepared.readable, pa)
        ingested = pa.array([prepared.ingested_at] * table.num_rows, pa.timestamp("us", tz="UTC"))
        table = table.set_column(
            table.schema.get_field_index("ingested_at"), "ingested_at", ingested
        )
        table = _dedupe_executor_records(table, pa)
        ts = table.column("ts").cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
        return table.select(schema.names).cast(schema)

    def _quarantine_table(self, prepared: Prepared) -> pa.Table:
        pa = self.pa
        rows = prepared.quarantine
        return pa.table(
            {
                "source_file": [r.source_file for r in rows],
                "line_no": pa.array([r.line_no for r in rows], pa.int32()),
                "reason": [r.reason for r in rows],
                "raw_line": [r.raw_line for r in rows],
                "flush_batch": pa.array([prepared.version] * len(rows), pa.int64()),
                "quarantined_at": pa.array(
                    [prepared.ingested_at] * len(rows), pa.timestamp("us", tz="UTC")
                ),
            },
            schema=arrow_schema(quarantine=True),
        )

    def _commit(self, uri: str, app_id: str, version: int, data: pa.Table) -> tuple[bool, int]:
        """Append ``data`` with txn (app_id, version) unless already committed."""
        dl = self.dl
        for attempt in range(_COMMIT_RETRIES):
            table = dl.DeltaTable(uri)
            done = table.transaction_version(app_id)
            if done is not None and done >= version:
                return True, table.version()
            try:
                dl.write_deltalake(
                    table,
                    data,
                    mode="append",
                    commit_properties=dl.CommitProperties(
                        app_transactions=[dl.Transaction(app_id=app_id, version=version)],
                    ),
                )
            except dl.exceptions.CommitFailedError:
                if attempt == _COMMIT_RETRIES - 1:
                    raise
                continue  # someone else committed first: re-read the txn version and retry
            return False, dl.DeltaTable(uri).version()
        raise FlushError(f"could not commit to {uri} after {_COMMIT_RETRIES} attempts")

    def write_batch(self, prepared: Prepared, app_id: str) -> Outcome:
        data = self._arrow(prepared)
        quarantined = 0
        if prepared.quarantine:
            self._ensure(self.q_uri, arrow_schema(quarantine=True), None, main=False)
            q_skipped, _ = self._commit(
                self.q_uri, app_id + ":q", prepared.version, self._quarantine_table(prepared)
            )
            quarantined = 0 if q_skipped else len(prepared.quarantine)
            fault("during_quarantine")
        skipped, version = self._commit(self.uri, app_id, prepared.version, data)
        return Outcome(0 if skipped else data.num_rows, version, skipped, quarantined)


def _dedupe_executor_records(table: pa.Table, pa: Any) -> pa.Table:
    """Drop repeated executor records (same deterministic record_id) within a batch.

    Accumulator updates from transformations can be applied again when a stage is
    recomputed; the driver already drops recent repeats, this catches the rest.
    """
    pc = pa.compute
    is_exec = pc.fill_null(pc.equal(table.column("source"), "executor"), False)
    if not pc.any(is_exec).as_py():
        return table
    ids = table.column("record_id").to_pylist()
    flags = is_exec.to_pylist()
    seen: set[str] = set()
    keep = []
    for rid, ex in zip(ids, flags, strict=True):
        if ex and rid in seen:
            keep.append(False)
            continue
        if ex:
            seen.add(rid)
        keep.append(True)
    return table if all(keep) else table.filter(pa.array(keep))


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _simple(t: Any) -> str:
    """A writer-neutral type string (ignores Arrow's child-field names and time zone names)."""
    import pyarrow as pa

    if pa.types.is_map(t):
        return f"map<{_simple(t.key_type)},{_simple(t.item_type)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{_simple(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{_simple(f.type)}" for f in t) + ">"
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    return str(t)


def _check_schema(uri: str, expected: pa.Schema, existing: pa.Schema) -> None:
    check_columns(
        f"at {uri}",
        {f.name: _simple(f.type) for f in expected},
        {f.name: _simple(f.type) for f in existing},
        "Flush to a new path, or migrate the table to laketrace.schema.arrow_schema().",
    )


def _python_table(paths: list[str], pa: Any) -> pa.Table:
    """Parse clean spool files without DuckDB (slow path)."""
    names = [c.name for c in COLUMNS if c.in_spool]
    cols: dict[str, list] = {n: [] for n in names}
    for p in paths:
        with open(p, "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                obj = json.loads(raw)
                for n in names:
                    cols[n].append(obj.get(n))
    fields = {f.name: f.type for f in arrow_schema()}
    arrays = {}
    for n in names:
        if n == "ts":
            arrays["ts"] = pa.array(cols["ts"], pa.string()).cast(pa.timestamp("us", tz="UTC"))
            arrays["date"] = pa.array([s[:10] for s in cols["ts"]], pa.string()).cast(pa.date32())
        elif n == "context":
            arrays[n] = pa.array([list((v or {}).items()) for v in cols[n]], fields[n])
        else:
            arrays[n] = pa.array(cols[n], fields[n])
    arrays["ingested_at"] = pa.nulls(len(cols["ts"]), pa.timestamp("us", tz="UTC"))
    return pa.table(arrays)
