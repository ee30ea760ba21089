"""The delta-rs read-ahead: the next batch's files parsed while a batch is written."""

from __future__ import annotations

import json
import os
import threading

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

import duckdb
import pyarrow as pa

from laketrace import flush_to_delta
from laketrace.flush import prefetch as prefetch_mod
from laketrace.flush.duck_read import DuckReader
from laketrace.flush.prefetch import Prefetch
from laketrace.testing import read_delta


def _spool_file(log_dir, make_logger, n=20):
    log = make_logger()
    for i in range(n):
        log.info("record {}", i)
    log.close()
    return next(
        os.path.join(log_dir, f) for f in sorted(os.listdir(log_dir)) if f.endswith(".jsonl")
    )


def _prefetched(path):
    reader = DuckReader(duckdb, pa)
    pre = Prefetch(reader, frozenset({"nan", "depth"}))
    pre.want([path])
    pre.start()
    pre.wait()
    return reader, pre


def _count_taken(monkeypatch) -> list[int]:
    """How many files each `Prefetch.take` of the flush answered (filled as it runs)."""
    taken: list[int] = []
    real_take = Prefetch.take

    def take(self, paths):
        table, covered = real_take(self, paths)
        taken.append(len(covered))
        return table, covered

    monkeypatch.setattr(prefetch_mod.Prefetch, "take", take)
    return taken


def _scan_after(monkeypatch, path, event) -> None:
    """The read-ahead's byte scan reaches ``path`` only once ``event`` is set."""
    real_suspect = prefetch_mod.suspect

    def suspect(p, checks):
        if p == path:
            event.wait()
        return real_suspect(p, checks)

    monkeypatch.setattr(prefetch_mod, "suspect", suspect)


def test_prefetched_rows_are_taken_under_the_held_name(make_logger, log_dir, tmp_path):
    """A held hard link to a prefetched file takes its rows, with ``_file`` naming the link."""
    path = _spool_file(log_dir, make_logger)
    reader, pre = _prefetched(path)
    held = str(tmp_path / "held.jsonl")
    os.link(path, held)
    table, covered = pre.take([held])
    assert covered == {held}
    files = table.column("_file")
    assert set(files.to_pylist()) == {held}
    plain = table.set_column(
        table.schema.get_field_index("_file"), "_file", files.cast(pa.string())
    )
    assert plain.equals(reader.select([held]))
    assert pre.take([held]) == (None, set())  # used up


def test_a_file_changed_after_the_read_is_read_again(make_logger, log_dir):
    """A file whose size or mtime changed since it was prefetched is not taken."""
    path = _spool_file(log_dir, make_logger)
    _, pre = _prefetched(path)
    with open(path, "ab") as fh:
        fh.write(json.dumps({"ts": "2025-01-01T00:00:00Z"}).encode() + b"\n")
    assert pre.take([path]) == (None, set())


def test_a_failed_read_is_not_taken(tmp_path):
    """A file DuckDB cannot parse leaves nothing to take (the batch reads it as usual)."""
    path = str(tmp_path / "x.sealed.jsonl")
    with open(path, "wb") as fh:
        fh.write(b"{not json\n")
    _, pre = _prefetched(path)
    assert pre.take([path]) == (None, set())


def test_read_ahead_batches_quarantine_and_ship_exactly_once(
    make_logger, log_dir, tmp_path, monkeypatch
):
    """Batches read ahead still quarantine a bad line and ship every other record once."""
    log = make_logger(rotation="2 KB")
    for i in range(120):
        log.info("record {}", i, pad="q" * 20)
    log.close()
    names = sorted(f for f in os.listdir(log_dir) if f.endswith(".jsonl"))
    with open(os.path.join(log_dir, names[-1]), "ab") as fh:
        fh.write(b'{"ts": "not a time", "level": "INFO", "record_id": "x"}\n')
    with open(os.path.join(log_dir, names[-2]), "ab") as fh:  # found by the byte scan
        fh.write(b'{"ts": "2025-01-01T00:00:00Z", "level": "INFO", "record_id": "y", "n": NaN}\n')
    taken = _count_taken(monkeypatch)
    target = str(tmp_path / "t")
    res = flush_to_delta(log_dir=log_dir, path=target, batch_bytes=4_000)
    assert res.batches > 2 and sum(taken[1:]) > 0
    assert (res.records, res.quarantined) == (120, 2)
    ids = read_delta(target).column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) == 120
    reasons = sorted(read_delta(target + "_quarantine").column("reason").to_pylist())
    assert reasons[0].startswith("not valid JSON") and reasons[1].startswith("ts:")


def test_the_scan_done_ahead_is_reused_only_for_the_same_file(make_logger, log_dir, tmp_path):
    """A held link to a scanned file reuses its scan result; an unscanned file has none."""
    path = _spool_file(log_dir, make_logger)
    _, pre = _prefetched(path)
    held = str(tmp_path / "held.jsonl")
    os.link(path, held)
    assert pre.scanned(held) == (True, None)
    other = str(tmp_path / "other.jsonl")
    with open(path, "rb") as src, open(other, "wb") as dst:
        dst.write(src.read())
    assert pre.scanned(other) == (False, None)


@pytest.mark.parametrize(
    ("bad_line", "check"),
    [
        (b'{"ts": "2025-01-01T00:00:00Z", "level": "INFO", "record_id": "y", "n": NaN}\n', "nan"),
        (b'{"broken', "tail"),  # fails DuckDB's read of every file it is read with
    ],
    ids=["nan", "unreadable"],
)
def test_a_flagged_file_is_left_out_and_the_others_are_taken(
    make_logger, log_dir, tmp_path, bad_line, check
):
    """A file the byte scan flags is not taken from the read-ahead; the others are."""
    good = _spool_file(log_dir, make_logger)
    bad = str(tmp_path / "bad.sealed.jsonl")
    with open(good, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read() + bad_line)
    reader = DuckReader(duckdb, pa)
    pre = Prefetch(reader, frozenset({"nan", "depth", "nul"}))
    pre.want([good, bad])
    pre.start()
    table, covered = pre.take([good, bad])
    assert covered == {good}
    assert set(table.column("_file").to_pylist()) == {good} and table.num_rows == 20
    assert pre.scanned(bad) == (True, check)


def test_the_first_batch_is_read_ahead(make_logger, log_dir, tmp_path, monkeypatch):
    """A flush of one batch takes that batch's rows from the read-ahead."""
    _spool_file(log_dir, make_logger)
    taken = _count_taken(monkeypatch)
    res = flush_to_delta(log_dir=log_dir, path=str(tmp_path / "t"))
    assert (res.batches, res.records, taken) == (1, 20, [1])


def test_a_flagged_file_never_reaches_duckdb(make_logger, log_dir, tmp_path, monkeypatch):
    """The read-ahead hands DuckDB only files the byte scan passed (a deep line costs DuckDB
    gigabytes: a 14 MB one took 1.1 GB)."""
    good = _spool_file(log_dir, make_logger)
    deep = str(tmp_path / "deep.sealed.jsonl")
    with open(deep, "wb") as fh:
        fh.write(b'{"ts": "2025-01-01T00:00:00Z", "level": "INFO", "record_id": "d", ')
        fh.write(b'"context": {"a": ' + b"[" * 200 + b"]" * 200 + b"}}\n")
    reader = DuckReader(duckdb, pa)
    parsed: list[str] = []
    real_select = reader.select

    def select(paths, con=None):
        parsed.extend(paths)
        return real_select(paths, con)

    monkeypatch.setattr(reader, "select", select)
    pre = Prefetch(reader, frozenset({"nan", "depth", "nul"}))
    pre.want([deep, good])
    pre.start()
    table, covered = pre.take([deep, good])
    assert pre.scanned(deep) == (True, "depth")
    assert parsed == [good] and covered == {good} and table.num_rows == 20


def _renumbered_copy(first):
    """A second spool file holding ``first``'s records under other record ids."""
    second = first.replace(".jsonl", "-2.jsonl")
    with open(first, "rb") as src, open(second, "wb") as dst:
        dst.write(src.read().replace(b'"record_id":"', b'"record_id":"2-'))
    return second


def test_files_parsed_in_several_reads_are_all_taken(make_logger, log_dir, monkeypatch):
    """Files DuckDB reads in separate reads (the scan still running) are all taken once."""
    first = _spool_file(log_dir, make_logger)
    second = _renumbered_copy(first)
    reader = DuckReader(duckdb, pa)
    reads: list[list[str]] = []
    first_read = threading.Event()
    real_select = reader.select

    def select(paths, con=None):
        reads.append(list(paths))
        first_read.set()
        return real_select(paths, con)

    monkeypatch.setattr(reader, "select", select)
    _scan_after(monkeypatch, second, first_read)
    pre = Prefetch(reader, frozenset({"nan", "depth", "nul"}))
    pre.want([first, second])
    pre.start()
    table, covered = pre.take([first, second])
    assert reads == [[first], [second]] and covered == {first, second}
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) == 40


class _Died(BaseException):
    """What kills a thread without being an Exception."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_file_whose_read_never_completed_is_not_covered(make_logger, log_dir, monkeypatch):
    """A file whose read died is not taken as covered (its records would be lost); a file
    read before is."""
    first = _spool_file(log_dir, make_logger)
    second = _renumbered_copy(first)
    reader = DuckReader(duckdb, pa)
    first_read = threading.Event()
    real_select = reader.select

    def select(paths, con=None):
        if second in paths:
            raise _Died
        first_read.set()
        return real_select(paths, con)

    monkeypatch.setattr(reader, "select", select)
    _scan_after(monkeypatch, second, first_read)
    pre = Prefetch(reader, frozenset({"nan", "depth", "nul"}))
    pre.want([first, second])
    pre.start()
    table, covered = pre.take([first, second])
    assert covered == {first} and table.num_rows == 20
