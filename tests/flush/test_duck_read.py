"""DuckDB's parse of spool lines (the delta-rs writer) gives the rows the Python parse gives."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

import duckdb
import pyarrow as pa
import pyarrow.compute  # DuckReader uses pa.compute

from laketrace.flush.duck_read import DuckReader, python_table
from laketrace.flush.validate import validate_line

CONTEXTS = [
    {"job": "nightly", "n": 1, "f": 1.5, "e": 100.0, "neg": -7, "big": 12345678901234567890},
    {"o": {"a": [1, {"b": None}], "s": "é"}, "t": True, "z": None, "empty": {}, "list": []},
    {"s": 'quote " backslash \\ newline \n tab \t é \u2603 😀', "k é": "v"},
    {},
    None,
]


def _line(i: int, context: object) -> bytes:
    record = {
        "ts": [
            "2025-11-28T13:20:00.5+02:00",
            "2025-11-28 23:59:59.123456789",
            "2025-11-28T01:02:03Z",
        ][i % 3],
        "level": "INFO",
        "record_id": f"r{i}",
        "msg": f"m{i}",
        "pid": -0 if i % 2 else 2**31 - 1,
        "line": i,
        "traceback": None if i % 2 else 7,
        "exception": None
        if i % 2
        else {"class": "E", "msg": "boom", "stacktrace": [{"class": "C", "line": 3}, None]},
    }
    if context is not None or i % 2:
        record["context"] = context
    return json.dumps(record, ensure_ascii=bool(i % 2)).encode() + b"\n"


def test_duckdb_rows_equal_the_python_parse(tmp_path):
    """Every column DuckDB reads (context map, exception, ints, ts in UTC, date) equals the
    Python parse of the same clean lines, so both read paths write the same table."""
    path = tmp_path / "f.jsonl"
    lines = [_line(i, c) for i in range(4) for c in CONTEXTS]
    assert all(validate_line(raw) is None for raw in lines)
    path.write_bytes(b"".join(lines))
    duck = DuckReader(duckdb, pa).select([str(path)])
    assert not pa.compute.any(duck.column("_bad")).as_py()
    expected = python_table([str(path)], pa)
    got = duck.drop_columns(["_file", "_bad"]).select(expected.schema.names)
    for name in expected.schema.names:
        want = expected.column(name).cast(expected.schema.field(name).type)
        have = got.column(name).cast(expected.schema.field(name).type)
        assert have.to_pylist() == want.to_pylist(), name


_NO_PANDAS = """
import sys
import laketrace
log = laketrace.get_logger("np", {"log_dir": sys.argv[1], "stdout": False, "rotation": "2 KB"})
for i in range(60):
    log.info("record {}", i, order=i)
log.close()
r = laketrace.flush_to_delta(log_dir=sys.argv[1], path=sys.argv[2], batch_bytes=4096)
assert r.records == 60, r
print("pandas" in sys.modules)
"""


def test_a_clean_flush_does_not_import_pandas(tmp_path):
    """The delta-rs flush of clean files builds no Arrow value from Python objects, so pyarrow
    never imports pandas (half a second of CPU) even where pandas is installed."""
    pytest.importorskip("pandas")
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _NO_PANDAS, str(tmp_path / "logs"), str(tmp_path / "t")],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "False"


def test_a_line_longer_than_duckdbs_default_buffer_is_read(tmp_path):
    """A 40 MB line (past DuckDB's default object size) is parsed, not rejected."""
    path = tmp_path / "long.sealed.jsonl"
    good = {"ts": "2025-11-28T13:20:00Z", "level": "INFO", "record_id": "a", "msg": "m"}
    long = dict(good, record_id="b", msg="x" * 40_000_000)
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in (good, long)))
    table = DuckReader(duckdb, pa).select([str(path)])
    assert table.column("_bad").to_pylist() == [False, False]
    assert [len(m) for m in table.column("msg").to_pylist()] == [1, 40_000_000]


def test_a_long_line_is_read_whatever_duckdbs_error_says(tmp_path, monkeypatch):
    """A line past the first read's object size loads even if DuckDB's error message does
    not name ``maximum_object_size`` (the retry does not depend on its wording)."""
    real = DuckReader._query

    def reworded(self, paths, con, object_size):
        try:
            return real(self, paths, con, object_size)
        except self.errors as exc:
            raise type(exc)("a line is too long for this read") from None

    monkeypatch.setattr(DuckReader, "_query", reworded)
    path = tmp_path / "long.sealed.jsonl"
    rec = {"ts": "2025-11-28T13:20:00Z", "level": "INFO", "record_id": "a", "msg": "x" * 40_000_000}
    path.write_bytes(json.dumps(rec).encode() + b"\n")
    table = DuckReader(duckdb, pa).select([str(path)])
    assert table.column("_bad").to_pylist() == [False]
    assert [len(m) for m in table.column("msg").to_pylist()] == [40_000_000]
