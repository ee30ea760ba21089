"""The delta-rs writer (no JVM): DuckDB parses spool JSON to Arrow, `deltalake` commits.

delta-rs does not skip a duplicate transaction version by itself, so before each commit
the table's recorded version for the app id is read (`DeltaTable.transaction_version`)
and a batch at or below it is skipped. A concurrent commit conflict is retried after
re-reading that version. Every commit carries LakeTrace's metadata in ``userMetadata``
(`laketrace.flush.commits`). The quarantine commit comes first, so a batch whose main
commit is in the table has its quarantine rows in too.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import FlushError
from ..schema import arrow_schema
from ..targets import Target
from .commits import Commit, History, parse_meta, read_back
from .duck_read import DuckReader, python_table, strings, timestamps, writer_reject_rows
from .faults import fault
from .prefetch import Prefetch
from .rs_options import Options, with_storage_options
from .writer import (
    QUARANTINE_DESCRIPTION,
    TABLE_DESCRIPTION,
    TABLE_PROPERTIES,
    Outcome,
    Prepared,
    QuarantineRow,
    check_columns,
    name_variants,
    new_rows,
    quarantine_key,
)

if TYPE_CHECKING:
    import pyarrow as pa

_COMMIT_RETRIES = 5


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
    lenient = frozenset({"nan", "depth", "nul"})

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """No Spark jobs to tag; a background read still running is waited for."""
        try:
            yield
        finally:
            if self.prefetch is not None:
                self.prefetch.wait()

    def scanned(self, path: str) -> tuple[bool, str | None]:
        """The read-ahead's byte scan of ``path``, if it scanned that very file."""
        return self.prefetch.scanned(path) if self.prefetch is not None else (False, None)

    def want_next(self, paths: list[str], *, now: bool = False) -> None:
        """The next batch's files: read while this batch is written (`flush.prefetch`),
        or at once (``now``: the first batch, read while it is held and planned)."""
        if self.prefetch is not None:
            self.prefetch.want(paths)
            if now:
                self.prefetch.start()

    def __init__(self, target: Target, storage: Options | None = None) -> None:
        self.target = target
        self._cache: tuple[list[str], set[str], Any] | None = None
        dl, self.pa = _require()
        self.dl = with_storage_options(dl, storage)  # remote tables: credentials
        self.uri = target.local_path or target.location
        self.q_uri = target.quarantine_local or target.quarantine
        self.reader = DuckReader(_duckdb(), self.pa)
        self.prefetch = Prefetch(self.reader, self.lenient) if self.reader.duck else None

    def exists(self) -> bool:
        return self.dl.DeltaTable.is_deltatable(self.uri)

    def table_version(self) -> int | None:
        return self.dl.DeltaTable(self.uri).version() if self.exists() else None

    def table_id(self) -> str:
        return str(self.dl.DeltaTable(self.uri).metadata().id)

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

    def _commits(self, uri: str, limit: int) -> list[Commit]:
        return [
            Commit(
                int(h.get("version", -1)),
                int(h.get("timestamp") or 0),
                str(h.get("operation") or ""),
                parse_meta(h.get("userMetadata")),
            )
            for h in self.dl.DeltaTable(uri).history(limit)
        ]

    def latest(self, limit: int) -> list[Commit]:
        return self._commits(self.uri, limit) if self.exists() else []

    def history(self, since_ms: int, *, quarantine: bool = False) -> History:
        """Commits at or after ``since_ms`` (read backwards a page at a time)."""
        uri = self.q_uri if quarantine else self.uri
        if not self.dl.DeltaTable.is_deltatable(uri):
            return History([], True)
        return read_back(lambda limit: self._commits(uri, limit), since_ms)

    def committed(self, app_id: str, version: int, since_ms: int, *, quarantine: bool) -> bool:
        uri = self.q_uri if quarantine else self.uri
        if not self.dl.DeltaTable.is_deltatable(uri):
            return False
        done = self.dl.DeltaTable(uri).transaction_version(app_id + (":q" if quarantine else ""))
        return done is not None and done >= version

    def problem_files(self, paths: list[str]) -> set[str]:
        """Files DuckDB cannot read strictly, or with rows the one rule rejects.

        One read for the whole batch; if it fails, halves are read until the failing files
        are isolated. The successful reads are kept, so good files are parsed only once.
        """
        self._cache = None
        if self.reader.connect() is None:
            return set(paths)  # no DuckDB: validate every line in Python
        if not paths:
            return set()
        parts: list[Any] = []
        unreadable: set[str] = set()
        pre, covered = self.prefetch.take(paths) if self.prefetch else (None, set())
        if pre is not None:
            parts.append(pre)
        todo = [p for p in paths if p not in covered]
        if todo:
            self._probe(todo, parts, unreadable)
        read = [p for p in paths if p not in unreadable]
        if not parts:
            return unreadable
        table = _concat(parts, self.pa)
        flagged = table.filter(table.column("_bad"))
        bad_files = set(flagged.column("_file").unique().to_pylist())
        self._cache = (read, bad_files, table)
        return unreadable | {p for p in read if p in bad_files}

    def _probe(self, paths: list[str], parts: list[Any], unreadable: set[str]) -> None:
        try:
            parts.append(self.reader.select(paths))
        except self.reader.errors:
            if len(paths) == 1:
                unreadable.add(paths[0])
                return
            mid = len(paths) // 2
            self._probe(paths[:mid], parts, unreadable)
            self._probe(paths[mid:], parts, unreadable)

    def _read_clean(self, path: str, prepared: Prepared) -> pa.Table | None:
        """A clean (Python-validated) copy; lines DuckDB still rejects are quarantined."""
        try:
            table = self.reader.select([path])
            if not self.pa.compute.any(table.column("_bad")).as_py():
                return table
        except self.reader.errors:
            pass
        bad, table = self.reader.rejects(path)
        name = prepared.origin.get(path, os.path.basename(path))
        prepared.quarantine.extend(writer_reject_rows(path, name, bad, "DuckDB"))
        return table

    def _arrow(self, prepared: Prepared) -> pa.Table:
        pa = self.pa
        schema = arrow_schema()
        if not prepared.readable:
            return schema.empty_table()
        if self.reader.connect() is None:
            table = python_table(prepared.readable, pa)
        else:
            parts = []
            todo = list(prepared.readable)
            if self._cache is not None:
                cached_paths, bad_files, cached = self._cache
                keep = [p for p in todo if p in cached_paths and p not in bad_files]
                if len(keep) == len(cached_paths):
                    parts.append(cached)
                elif keep:
                    parts.append(
                        cached.filter(pa.compute.is_in(cached.column("_file"), pa.array(keep)))
                    )
                todo = [p for p in todo if p not in keep]
            if todo:  # cleaned copies of problem files
                try:
                    together = self.reader.select(todo)
                    clean = not self.pa.compute.any(together.column("_bad")).as_py()
                except self.reader.errors:
                    together, clean = None, False
                if clean:
                    parts.append(together)
                else:
                    parts += [
                        t for t in (self._read_clean(p, prepared) for p in todo) if t is not None
                    ]
            self._cache = None
            if not parts:
                return schema.empty_table()
            table = _concat([p.drop_columns(["_file", "_bad"]) for p in parts], pa)
        ingested = timestamps(prepared.ingested_at, table.num_rows, pa)
        table = table.set_column(
            table.schema.get_field_index("ingested_at"), "ingested_at", ingested
        )
        table = _dedupe_executor_records(table, pa)
        ts = table.column("ts").cast(pa.timestamp("us", tz="UTC"))
        table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
        return table.select(schema.names).cast(schema)

    def _quarantine_table(self, prepared: Prepared, rows: list[QuarantineRow]) -> pa.Table:
        # column types come from the schema (`arrow_schema` converts the lists)
        return self.pa.table(
            {
                "source_file": [r.source_file for r in rows],
                "line_no": [r.line_no for r in rows],
                "reason": [r.reason for r in rows],
                "raw_line": [r.raw_line for r in rows],
                "flush_batch": [prepared.version] * len(rows),
                "quarantined_at": [prepared.ingested_at] * len(rows),
            },
            schema=arrow_schema(quarantine=True),
        )

    def _sql(self, uri: str, sql: str) -> pa.Table:
        qb = self.dl.QueryBuilder().register("t", self.dl.DeltaTable(uri))
        table = self.pa.RecordBatchReader.from_stream(qb.execute(sql)).read_all()
        string_views = [self.pa.types.is_string_view(f.type) for f in table.schema]
        schema = self.pa.schema(
            [
                f.with_type(self.pa.string()) if v else f
                for f, v in zip(table.schema, string_views, strict=True)
            ]
        )
        return table.cast(schema)

    def _existing_quarantine(self, names: list[str]) -> set[tuple[str, int | None]]:
        if not names or not self.dl.DeltaTable.is_deltatable(self.q_uri):
            return set()
        inlist = ", ".join(_sql_str(n) for n in name_variants(names))
        got = self._sql(
            self.q_uri, f"SELECT source_file, line_no FROM t WHERE source_file IN ({inlist})"
        )
        return {
            quarantine_key(s, n) for s, n in zip(*(c.to_pylist() for c in got.columns), strict=True)
        }

    def _absent(self, data: pa.Table) -> pa.Table:
        """``data`` without the record_ids the target holds already (same dates)."""
        if data.num_rows == 0:
            return data
        pc = self.pa.compute
        dates = [d.isoformat() for d in pc.unique(data.column("date")).to_pylist() if d]
        where = " OR ".join(f"date = DATE {_sql_str(d)}" for d in dates) or "FALSE"
        have = self._sql(self.uri, f"SELECT DISTINCT record_id FROM t WHERE {where}")
        if have.num_rows == 0:
            return data
        return data.filter(pc.invert(pc.is_in(data.column("record_id"), have.column(0))))

    def _commit(
        self, uri: str, app_id: str, version: int, data: pa.Table, meta: str
    ) -> tuple[bool, int]:
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
                        custom_metadata={"userMetadata": meta},
                        app_transactions=[dl.Transaction(app_id=app_id, version=version)],
                    ),
                )
            except dl.exceptions.CommitFailedError:
                if attempt == _COMMIT_RETRIES - 1:
                    raise
                continue  # someone else committed first: re-read the txn version and retry
            return False, dl.DeltaTable(uri).version()
        raise FlushError(f"could not commit to {uri} after {_COMMIT_RETRIES} attempts")

    def write_batch(self, prepared: Prepared) -> Outcome:
        if self.prefetch is not None:
            self.prefetch.start()  # the next batch's files, parsed while this one is written
        v, app = prepared.version, prepared.app_id
        main_done = prepared.main_done or self.committed(app, v, 0, quarantine=False)
        if main_done and prepared.fresh:  # the ledger is behind the table: do not guess
            return Outcome(0, self.table_version(), True)
        data = None if main_done else self._arrow(prepared)  # may quarantine more lines
        quarantined = 0
        if prepared.quarantine and not prepared.q_done:
            rows = new_rows(prepared.quarantine, self._existing_quarantine(prepared.sources))
            if rows:
                self._ensure(self.q_uri, arrow_schema(quarantine=True), None, main=False)
                q_skipped, _ = self._commit(
                    self.q_uri,
                    app + ":q",
                    v,
                    self._quarantine_table(prepared, rows),
                    prepared.q_meta,
                )
                quarantined = 0 if q_skipped else len(rows)
            fault("during_quarantine")
        fault("between_commits")
        if data is None:
            return Outcome(0, self.table_version(), True, quarantined)
        # the quarantine commit is in: say so, a rebuilt ledger need not look for it
        meta = json.loads(prepared.main_meta) if prepared.main_meta else {}
        meta["quarantined"] = len(prepared.quarantine)
        prepared.main_meta = json.dumps(meta, separators=(",", ":"))
        if prepared.idempotent:
            data = self._absent(data)
        skipped, version = self._commit(self.uri, app, v, data, prepared.main_meta)
        return Outcome(0 if skipped else data.num_rows, version, skipped, quarantined)


def _concat(parts: list[pa.Table], pa: Any) -> pa.Table:
    """``parts`` as one table (a read-ahead's ``_file`` is a dictionary: made plain)."""
    if len(parts) == 1:
        return parts[0]
    plain = []
    for p in parts:
        at = p.schema.get_field_index("_file")
        if at >= 0 and pa.types.is_dictionary(p.schema.field(at).type):
            p = p.set_column(at, "_file", p.column(at).cast(pa.string()))
        plain.append(p)
    return pa.concat_tables(plain)


def _dedupe_executor_records(table: pa.Table, pa: Any) -> pa.Table:
    """Drop repeated executor records (same deterministic record_id) within a batch.

    Accumulator updates from transformations can be applied again when a stage is
    recomputed; the driver already drops recent repeats, this catches the rest.
    """
    pc = pa.compute
    is_exec = pc.equal(table.column("source"), strings(["executor"], pa)[0])
    if not pc.any(is_exec).as_py():  # nulls skipped (no Python value: see `strings`)
        return table
    is_exec = pc.fill_null(is_exec, False)
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
