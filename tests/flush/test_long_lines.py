"""A line longer than a line may be (`validate.MAX_LINE`) is quarantined without being
held whole or parsed, by every reader of the flush, and its neighbours still load: a
damaged file of gigabytes without a newline cannot take the flush's memory."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from laketrace import flush_to_delta
from laketrace.flush import validate
from laketrace.flush.prepare import decompress, quarantine_foreign, split_file
from laketrace.flush.scan import suspect
from laketrace.spool.read import bounded_lines
from laketrace.testing import read_delta

from . import cases as line_cases
from .cases import (
    LONG_LINE_CASES,
    SMALL_MAX_LINE,
    STAMP,
    check_line_cases,
    line,
    sized_line,
    write_line_cases,
)

ALL_CHECKS = frozenset({"utf8", "bom", "surrogate", "nan", "depth", "nul"})


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(validate, "MAX_LINE", SMALL_MAX_LINE)
    return SMALL_MAX_LINE


def _peak(fn, *args):
    """``fn(*args)`` and the peak of Python memory it allocated (bytes)."""
    tracemalloc.start()
    try:
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _huge(path, mib, *, before=b"", after=b""):
    """A file: ``before``, then ``mib`` MiB of ``x`` and no newline, then ``after``."""
    with open(path, "wb") as fh:
        fh.write(before)
        block = b"x" * (1 << 20)
        for _ in range(mib):
            fh.write(block)
        fh.write(after)
    return str(path)


def _spool_name(seq, suffix=""):
    return f"long__{STAMP}__run__5__{seq:06d}.sealed.jsonl{suffix}"


def test_bounded_lines_keeps_short_lines_whole_and_long_ones_counted():
    data = b"a" * 9 + b"\n" + b"b" * 10 + b"\n" + b"c" * 25 + b"\n" + b"\n" + b"d" * 30
    got = list(bounded_lines(io.BytesIO(data), 10, 4))
    assert got == [
        (b"a" * 9 + b"\n", 10),  # exactly the limit, newline included: whole
        (b"bbbb", 11),  # one byte over: its head and its length
        (b"cccc", 26),
        (b"\n", 1),
        (b"dddd", 30),  # at the end of the file without a newline
    ]
    assert list(bounded_lines(io.BytesIO(b""), 10, 4)) == []


@pytest.mark.parametrize("case", LONG_LINE_CASES, ids=lambda c: c.name)
def test_one_rule_on_long_lines(small_limit, case):
    reason = validate.validate_line(case.text + b"\n")
    assert (reason is None) == case.ok, reason
    if not case.ok:
        assert f"{len(case.text) + 1:,} bytes" in reason and f"{small_limit:,}" in reason


def test_the_real_limit_is_what_the_readers_use():
    """128 MiB: past what either engine loads (DuckDB's retry reads objects up to 128 MiB;
    Spark's Jackson takes strings up to 20,000,000 characters)."""
    assert validate.MAX_LINE == 128 * 1024 * 1024
    assert "134,217,728" in validate.too_long_reason(validate.MAX_LINE + 1)


@pytest.mark.parametrize("duckdb", [True, False], ids=["duckdb", "python"])
def test_delta_rs_writer_quarantines_long_lines(
    log_dir, tmp_path, monkeypatch, small_limit, duckdb
):
    if not duckdb:
        monkeypatch.setattr("laketrace.flush.delta_rs._duckdb", lambda: None)
    monkeypatch.setattr(line_cases, "LINE_CASES", [])
    cases = write_line_cases(log_dir, LONG_LINE_CASES)
    target = str(tmp_path / "t")
    res = flush_to_delta(log_dir=log_dir, path=target)
    rows = read_delta(target).to_pylist()
    q = read_delta(target + "_quarantine").to_pylist()
    assert check_line_cases(cases, rows, q) == []
    assert res.quarantined == len(q) == 2
    assert all(len(r["raw_line"]) <= validate.RAW_LIMIT for r in q)
    again = flush_to_delta(log_dir=log_dir, path=target)
    assert (again.records, again.quarantined) == (0, 0)


def test_long_line_in_a_compressed_file_and_at_its_end(log_dir, tmp_path, small_limit):
    """A gzip file holding a long line ships its other lines; a long last line without a
    newline is one row too."""
    os.makedirs(log_dir)
    good = [line(f"gz-{i}") + "\n" for i in range(3)]
    body = good[0] + sized_line("gz-long", small_limit + 100) + "\n" + good[1] + good[2]
    with gzip.open(os.path.join(log_dir, _spool_name(1, ".gz")), "wb") as fh:
        fh.write(body.encode() + b"y" * (5 * small_limit))
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    ids = sorted(r["record_id"] for r in read_delta(target).to_pylist())
    q = read_delta(target + "_quarantine").to_pylist()
    assert ids == ["gz-0", "gz-1", "gz-2"]
    assert sorted((r["line_no"], "line too long" in r["reason"]) for r in q) == [
        (2, True),
        (5, True),
    ]


def test_scan_counts_a_line_across_its_chunk(tmp_path, small_limit):
    """The scan reads a chunk no longer than a line may be plus the rest of the line
    running past it: the line is measured whole, wherever it starts."""
    start = b"z" * 100 + b"\n"
    fits = start + b"q" * (small_limit - 1) + b"\n"  # the limit exactly, across the chunk
    over = start + b"q" * small_limit + b"\n"
    tail_over = start * 3 + b"q" * (small_limit + 1)  # no newline at the end
    for name, data, want in [
        ("fits", fits, None),
        ("over", over, "long"),
        ("tail_over", tail_over, "long"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        assert suspect(str(path), ALL_CHECKS) == want, name


def test_readers_hold_no_more_than_a_line_of_a_huge_line(tmp_path, monkeypatch):
    """48 MiB without a newline, the limit at 1 MiB: the scan, the split, a foreign file's
    rows and the decompression each hold a few MiB at a time, not the whole line."""
    monkeypatch.setattr(validate, "MAX_LINE", 1 << 20)
    first, last = (line(f"m-{i}").encode() + b"\n" for i in range(2))
    plain = _huge(tmp_path / _spool_name(1), 48, before=first, after=b"\n" + last)
    hit, peak = _peak(suspect, plain, ALL_CHECKS)
    assert hit == "long" and peak < 16 << 20, peak

    (clean, rows, good), peak = _peak(split_file, plain, str(tmp_path / "split"), "f")
    assert peak < 16 << 20, peak
    assert good == 2 and open(clean, "rb").read() == first + b"\n" + last  # line 2 blank
    assert [(r.line_no, r.reason.split(":")[0]) for r in rows] == [(2, "line too long")]
    assert rows[0].raw_line == "x" * validate.RAW_LIMIT

    foreign, peak = _peak(quarantine_foreign, plain, "f")
    assert peak < 16 << 20, peak
    assert [len(r.raw_line) for r in foreign] == [len(first) - 1, validate.RAW_LIMIT, len(last) - 1]

    gz = str(tmp_path / _spool_name(2, ".gz"))
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    (dest, bad), peak = _peak(decompress, gz, str(tmp_path / "plain"), "g")
    assert peak < 16 << 20, peak
    assert bad == [] and os.path.getsize(dest) == os.path.getsize(plain)


def test_damaged_compressed_file_drops_the_torn_long_line(tmp_path, monkeypatch):
    """A gzip file cut inside a long line ships the lines before it, never a torn piece."""
    monkeypatch.setattr(validate, "MAX_LINE", 1 << 20)
    first = line("d-0").encode() + b"\n"
    data = gzip.compress(first + os.urandom(3 << 20).hex().encode())
    gz = tmp_path / _spool_name(3, ".gz")
    gz.write_bytes(data[: len(data) // 2])
    dest, bad = decompress(str(gz), str(tmp_path / "plain"), "g")
    assert open(dest, "rb").read() == first
    assert len(bad) == 1 and bad[0].line_no == 2 and "damaged file" in bad[0].reason


def test_clean_copy_keeps_every_line_number(tmp_path, small_limit):
    """A split file's clean copy keeps each record on its own line number (a line not kept
    is left blank), so a row a writer adds for a line its engine rejects names the line of
    the source file and never takes the key of a line quarantined before it."""
    a, b, c = (line(f"n-{i}").encode() + b"\n" for i in range(3))
    path = tmp_path / _spool_name(4)
    long = b"x" * (2 * small_limit) + b"\n"
    path.write_bytes(a + b"\n" + long + b"{bad\n" + b"\0" * 8 + b + c + b"torn")
    clean, rows, good = split_file(str(path), str(tmp_path / "split"), "f")
    lines = open(clean, "rb").read().split(b"\n")
    assert good == 3
    assert {n: t for n, t in enumerate(lines, 1) if t} == {1: a[:-1], 5: b[:-1], 6: c[:-1]}
    assert [r.line_no for r in rows] == [3, 4, 5, 7]


def test_decompression_reads_in_blocks(tmp_path, monkeypatch):
    """A compressed file is copied a block at a time, not a read per line (per-line reads
    cost a gzip spool flush ~27% more CPU)."""
    from laketrace.flush import prepare

    calls = []
    real = prepare.open_spool_file

    class Counted:
        def __init__(self, fh):
            self._fh = fh

        def __getattr__(self, name):
            attr = getattr(self._fh, name)
            if name.startswith(("read", "__next__")):
                return lambda *a: calls.append(name) or attr(*a)
            return attr

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    monkeypatch.setattr(prepare, "open_spool_file", lambda p: Counted(real(p)))
    body = b"".join(line(f"b-{i}").encode() + b"\n" for i in range(5000))
    gz = tmp_path / _spool_name(5, ".gz")
    gz.write_bytes(gzip.compress(body))
    dest, bad = decompress(str(gz), str(tmp_path / "plain"), "b")
    assert bad == [] and open(dest, "rb").read() == body
    assert len(calls) < 500, len(calls)


class _Crash(BaseException):
    pass


@pytest.mark.parametrize(
    "point", ["after_plan", "before_commit", "during_quarantine", "between_commits", "after_commit"]
)
def test_long_lines_ship_once_after_a_crash(log_dir, tmp_path, small_limit, point):
    """A flush killed at any point and run again ships the lines around long ones (plain
    and gzip, a long last line without a newline) once, and quarantines each long line
    once, under its own line number."""
    from laketrace.flush import faults

    os.makedirs(log_dir)
    good = [line(f"k-{i}") + "\n" for i in range(4)]
    long = "x" * (2 * small_limit)
    with open(os.path.join(log_dir, _spool_name(1)), "w") as fh:
        fh.write(good[0] + "\n" + long + "\n" + good[1])
    with gzip.open(os.path.join(log_dir, _spool_name(2, ".gz")), "wt") as fh:
        fh.write(good[2] + good[3] + long)
    target = str(tmp_path / "t")

    def crash(p):
        if p == point:
            raise _Crash

    faults.fault_hook = crash
    try:
        with pytest.raises(_Crash):
            flush_to_delta(log_dir=log_dir, path=target)
    finally:
        faults.fault_hook = None
    flush_to_delta(log_dir=log_dir, path=target)
    again = flush_to_delta(log_dir=log_dir, path=target)
    ids = sorted(r["record_id"] for r in read_delta(target).to_pylist())
    q = read_delta(target + "_quarantine").to_pylist()
    assert ids == [f"k-{i}" for i in range(4)]
    assert sorted((r["source_file"], r["line_no"], r["reason"][:13]) for r in q) == [
        (_spool_name(1), 3, "line too long"),
        (_spool_name(2, ".gz"), 3, "line too long"),
    ]
    assert (again.records, again.quarantined) == (0, 0)
