"""How the delta-rs writer reads spool JSON: DuckDB with the one rule in SQL.

DuckDB parses the files strictly (a syntax error, a duplicated key, a lone surrogate, a
BOM or a wrongly typed ``exception`` fails the read, and the file is split line by line
in Python). ``context`` is read as JSON: a row whose ``context`` is not an object or
repeats a key is flagged (`MAP_COLUMNS`). Integer columns are read as JSON so that
``1.0``, ``"7"`` and ``true`` are rejected as `laketrace.flush.validate` rejects them,
``ts`` must match
`TS_PATTERN` and is converted to UTC (an offset is applied, not dropped), and ``date`` is
the UTC date of ``ts``. Without DuckDB, lines are parsed in Python (slower).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from array import array
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from ..schema import COLUMNS, REQUIRED_COLUMNS, arrow_schema, duckdb_columns
from .validate import TS_PATTERN, parse_ts, validate_line
from .writer import QuarantineRow

if TYPE_CHECKING:
    import pyarrow as pa

INT_COLUMNS = tuple(c.name for c in COLUMNS if c.in_spool and c.type == "int")
_STRING_COLUMNS = tuple(c.name for c in COLUMNS if c.in_spool and c.type == "string")
#: map columns (``context``) are read as JSON and returned as a key list and a value list
#: (``<name>:k``, ``<name>:v``) that `_maps` joins into an Arrow map: DuckDB builds a MAP
#: about three times slower than the two lists
MAP_COLUMNS = tuple(
    c.name for c in COLUMNS if c.in_spool and isinstance(c.type, tuple) and c.type[0] == "map"
)
_TS = f"CASE WHEN regexp_full_match(ts, '{TS_PATTERN}') THEN TRY_CAST(ts AS TIMESTAMPTZ) END"


def _int(c: str) -> str:
    is_int = f"""json_type("{c}") IN ('BIGINT', 'UBIGINT')"""
    return f'CASE WHEN {is_int} THEN TRY_CAST("{c}" AS INTEGER) END'


def _not_map(c: str) -> str:
    """SQL: the JSON column ``c`` is not null and not an object (duplicated keys: `_dups`)."""
    return f'("{c}" IS NOT NULL AND json_type("{c}") <> \'OBJECT\')'


#: SQL true for a distinct key list (``p``, as JSON text) of a map column that repeats a
#: key. Checking each distinct list once costs a fraction of checking every row.
_DUP_KEYS = "list_unique(from_json(p, '[\"VARCHAR\"]')) <> json_array_length(p)"


# a row DuckDB parsed but the one rule rejects
_BAD_ROW = " OR ".join(
    [f"({_TS}) IS NULL"]
    + [f'"{c}" IS NULL OR "{c}" = \'\'' for c in REQUIRED_COLUMNS if c != "ts"]
    + [f'("{c}" IS NOT NULL AND ({_int(c)}) IS NULL)' for c in INT_COLUMNS]
    + [_not_map(c) for c in MAP_COLUMNS]
)


#: DuckDB's ``maximum_object_size`` for the first read (its default), and for a file with
#: a longer line
_OBJECT_SIZE = 16 * 1024 * 1024
_LARGE_OBJECT_SIZE = 128 * 1024 * 1024


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns_sql() -> str:
    cols = duckdb_columns()
    for c in INT_COLUMNS + MAP_COLUMNS:
        cols[c] = "JSON"
    return "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in cols.items()) + "}"


_COLUMNS_SQL = _columns_sql()


def _select_list() -> str:
    out = []
    for c in COLUMNS:
        if c.name == "ts":
            out.append(f"({_TS}) AS ts, CAST(({_TS}) AS DATE) AS date")
        elif c.name == "date":
            continue
        elif c.name == "ingested_at":
            out.append("NULL::TIMESTAMPTZ AS ingested_at")
        elif c.name in INT_COLUMNS:
            out.append(f'({_int(c.name)}) AS "{c.name}"')
        elif c.name in MAP_COLUMNS:
            keys, values = f'json_keys("{c.name}")', f"""json_extract_string("{c.name}", '$.*')"""
            out.append(f'{keys} AS "{c.name}:k", {values} AS "{c.name}:v"')
            out.append(f'to_json({keys}) AS "{c.name}:p"')
        else:
            out.append(f'"{c.name}"')
    return ", ".join(out)


_SELECT = _select_list()


class DuckReader:
    """Reads spool files into Arrow with DuckDB (``con`` None: in Python)."""

    def __init__(self, duck: Any, pa: Any) -> None:
        self.duck = duck
        self.pa = pa
        self._con: Any = None
        # DuckDB reports bad input as duckdb.Error when it fails up front, or through
        # Arrow (OSError / ArrowException) when it fails while streaming the result
        self.errors: tuple[type[BaseException], ...] = (
            OSError,
            pa.lib.ArrowException,
        ) + ((duck.Error,) if duck is not None else ())

    def connect(self) -> Any:
        if self._con is None and self.duck is not None:
            self._con = self.new_connection()
        return self._con

    def new_connection(self) -> Any:
        """A DuckDB connection set up for spool reads (one per thread that reads)."""
        con = self.duck.connect(
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "threads": max(1, os.cpu_count() or 1),
            }
        )
        con.execute("SET enable_progress_bar = false")
        try:
            con.execute("SET TimeZone = 'UTC'")
        except self.duck.Error:  # pragma: no cover - a build without ICU is UTC anyway
            pass
        return con

    def select(self, paths: list[str], con: Any = None) -> pa.Table:
        """Parse ``paths`` into table columns plus ``_file`` and a ``_bad`` flag.

        DuckDB's buffers are sized for the longest line it may meet: they are read with
        the default size first (lines up to ~32 MiB; larger buffers cost page faults on
        every read), and again with room for lines up to ~256 MiB only if that read fails.
        """
        con = con or self.connect()
        try:
            table = self._query(paths, con, _OBJECT_SIZE)
        except self.errors:
            # any failed read is read again with the larger size (not only one whose error
            # names ``maximum_object_size``): a reworded DuckDB message must not send long
            # valid lines to quarantine; a file bad for another reason fails again
            table = self._query(paths, con, _LARGE_OBJECT_SIZE)
        return _maps(self._dups(table, con), self.pa)

    def _query(self, paths: list[str], con: Any, object_size: int) -> pa.Table:
        files = "[" + ", ".join(_sql_str(p) for p in paths) + "]"
        source = (
            f"read_json({files}, columns={_COLUMNS_SQL}, format='newline_delimited', "
            f"filename=true, maximum_object_size={object_size})"
        )
        sql = f"SELECT {_SELECT}, filename AS _file, ({_BAD_ROW}) AS _bad FROM {source}"
        out = con.sql(sql).arrow()
        return out.read_all() if hasattr(out, "read_all") else out

    def _dups(self, table: pa.Table, con: Any) -> pa.Table:
        """``table`` with ``_bad`` set on rows whose map column repeats a key (the key
        lists ``<name>:p`` are dropped)."""
        import pyarrow.compute as pc

        for name in MAP_COLUMNS:
            pats = table.column(f"{name}:p")
            table = table.drop_columns([f"{name}:p"])
            distinct = self.pa.table({"p": pc.unique(pats)})
            got = con.from_arrow(distinct).filter(_DUP_KEYS).arrow()
            dup = (got.read_all() if hasattr(got, "read_all") else got).column(0)
            if len(dup):
                at = table.schema.get_field_index("_bad")
                flag = pc.or_(table.column(at), pc.is_in(pats, value_set=dup.combine_chunks()))
                table = table.set_column(at, "_bad", flag)
        return table

    def rejects(self, path: str) -> tuple[list[int], pa.Table | None]:
        """For a file validated in Python that DuckDB still rejects or flags: the line
        numbers DuckDB rejects (found by halving) and a table of the rest."""
        with open(path, "rb") as fh:
            lines = [(n, raw) for n, raw in enumerate(fh, 1) if raw.strip()]
        bad: list[int] = []
        parts: list[pa.Table] = []
        self._halve(lines, bad, parts)
        table = self.pa.concat_tables(parts) if parts else None
        return bad, table

    def _halve(self, lines: list[tuple[int, bytes]], bad: list[int], parts: list) -> None:
        if not lines:
            return
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False)
        try:
            with tmp:  # a write that fails (a full disk) stops the flush, never a reject
                tmp.write(b"".join(raw for _, raw in lines))
            try:
                table = self.select([tmp.name])
                ok = not self.pa.compute.any(table.column("_bad")).as_py()
            except self.errors:
                ok, table = False, None
        finally:
            os.unlink(tmp.name)
        if ok and table is not None:
            parts.append(table)
        elif len(lines) == 1:
            bad.append(lines[0][0])
        else:
            mid = len(lines) // 2
            self._halve(lines[:mid], bad, parts)
            self._halve(lines[mid:], bad, parts)


def strings(values: list[str], pa: Any) -> pa.Array:
    """An Arrow string array built from its buffers.

    ``pa.array`` and ``pa.scalar`` import pandas when it is installed (half a second of
    CPU, most of a small flush's), so the flush's clean path builds its few values itself.
    """
    data = [v.encode() for v in values]
    offsets = array("i", accumulate((len(d) for d in data), initial=0))
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def timestamps(at: _dt.datetime | None, n: int, pa: Any) -> pa.Array:
    """``n`` times the instant ``at`` as Arrow UTC microsecond timestamps (see `strings`)."""
    if at is None:
        return pa.nulls(n, pa.timestamp("us", tz="UTC"))
    micros = (at - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)) // _dt.timedelta(
        microseconds=1
    )
    one = pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(array("q", [micros]))])
    return pa.repeat(one.cast(pa.timestamp("us", tz="UTC"))[0], n)


def _maps(table: pa.Table, pa: Any) -> pa.Table:
    """``table`` with each map column's key list and value list joined into an Arrow map.

    The lists of a row whose value is not an object (a ``_bad`` row) may differ in length;
    its map is null.
    """
    import pyarrow.compute as pc

    for name in MAP_COLUMNS:
        at = table.schema.get_field_index(f"{name}:k")
        keys, values = table.column(at), table.column(at + 1)
        chunks = []
        for k, v in zip(keys.chunks, values.chunks, strict=True):
            if k.offsets.equals(v.offsets):  # the usual case, no copies
                chunks.append(
                    pa.MapArray.from_arrays(k.offsets, k.values, v.values, mask=k.is_null())
                )
                continue
            same = pc.equal(pc.list_value_length(k), pc.list_value_length(v))
            none = pa.nulls(len(k), k.type)
            k, v = pc.if_else(same, k, none), pc.if_else(same, v, none)
            ends = pc.cumulative_sum(pc.fill_null(pc.list_value_length(k), 0)).cast(pa.int32())
            offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends])
            chunks.append(
                pa.MapArray.from_arrays(offsets, k.flatten(), v.flatten(), mask=k.is_null())
            )
        table = table.remove_column(at + 1).set_column(
            at, name, pa.chunked_array(chunks, pa.map_(pa.string(), pa.string()))
        )
    return table


def writer_reject_rows(
    path: str, name: str, line_nos: list[int], writer: str
) -> list[QuarantineRow]:
    """Quarantine rows for lines the writer's engine rejected although the one rule took
    them (kept, never dropped; the reason says which engine)."""
    wanted = set(line_nos)
    rows = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n in wanted:
                reason = validate_line(raw) or f"{writer} could not load the line"
                text = raw[: 64 * 1024].decode("utf-8", "replace").rstrip("\n")
                rows.append(QuarantineRow(name, n, reason, text))
    return rows


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _exception(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    frames = value.get("stacktrace")
    return {
        "class": _text(value.get("class")),
        "msg": _text(value.get("msg")),
        "stacktrace": None
        if frames is None
        else [
            None if f is None else {k: _text(f.get(k)) for k in ("class", "method", "file", "line")}
            for f in frames
        ],
    }


def python_table(paths: list[str], pa: Any) -> pa.Table:
    """Parse clean (already validated) spool files without DuckDB (slow path)."""
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
    ts = [parse_ts(v) for v in cols["ts"]]
    arrays = {
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "date": pa.array([t.date() if t else None for t in ts], pa.date32()),
        "ingested_at": pa.nulls(len(ts), pa.timestamp("us", tz="UTC")),
    }
    for n in names:
        if n == "ts":
            continue
        values = cols[n]
        if n == "context":
            values = [None if v is None else [(k, _text(x)) for k, x in v.items()] for v in values]
        elif n == "exception":
            values = [_exception(v) for v in values]
        elif n in _STRING_COLUMNS:
            values = [_text(v) for v in values]
        arrays[n] = pa.array(values, fields[n])
    return pa.table(arrays)
