"""The flush step with delta-rs: exactly once, quarantine, batches, compression, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from deltalake import DeltaTable

import laketrace
from laketrace import SchemaMismatchError, flush_to_delta
from laketrace.flush.faults import POINTS
from laketrace.schema import arrow_schema
from laketrace.sinks.lifecycle import maintenance
from laketrace.testing import read_delta


def _log_some(make_logger, n=100, **config):
    log = make_logger(**config)
    for i in range(n):
        log.info("record {}", i, i=i)
    log.close()
    return log


def _table(path):
    return read_delta(path)


def _ids(path):
    return _table(path).column("record_id").to_pylist()


def test_quarantine_option_names_the_quarantine_table(make_logger, log_dir, tmp_path):
    """quarantine= puts bad lines in that table (not next to the target), for delta-rs too."""
    _log_some(make_logger, 5)
    with open(os.path.join(log_dir, "notes.txt"), "w") as fh:
        fh.write("not a record\n")
    target = str(tmp_path / "table")
    elsewhere = str(tmp_path / "bad_lines")
    res = flush_to_delta(log_dir=log_dir, path=target, quarantine=elsewhere)
    assert (res.records, res.quarantined) == (5, 1)
    assert [r["raw_line"] for r in _table(elsewhere).to_pylist()] == ["not a record"]
    assert not os.path.exists(target + "_quarantine")


def test_flush_ships_every_record_once(make_logger, log_dir, tmp_path):
    """A flush ships all sealed records; a second flush ships nothing new."""
    _log_some(make_logger, 250)
    target = str(tmp_path / "table")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert (res.records, res.files, res.quarantined, res.batches) == (250, 1, 0, 1)
    assert res.writer == "delta-rs" and res.table_version == 1 and res.bytes > 0
    again = flush_to_delta(log_dir=log_dir, path=target)
    assert (again.records, again.files) == (0, 0)
    ids = _ids(target)
    assert len(ids) == 250 == len(set(ids))


def test_table_schema_partitioning_and_properties(make_logger, log_dir, tmp_path):
    """The table has exactly the lake schema, date partitions and useful properties."""
    _log_some(make_logger, 3)
    target = str(tmp_path / "table")
    flush_to_delta(log_dir=log_dir, path=target)
    import pyarrow as pa

    from laketrace.flush.delta_rs import _simple

    dt = DeltaTable(target)
    have = pa.schema(dt.schema().to_arrow())
    assert have.names == arrow_schema().names
    assert [_simple(f.type) for f in have] == [_simple(f.type) for f in arrow_schema()]
    meta = dt.metadata()
    assert meta.partition_columns == ["date"]
    assert meta.configuration.get("delta.appendOnly") == "false"
    assert "LakeTrace" in (meta.description or "")
    row = _table(target).to_pylist()[0]
    assert row["date"].isoformat() == row["ts"].date().isoformat()
    assert row["ingested_at"] is not None and row["context"] == [("i", "0")]


def test_unpartitioned_option(make_logger, log_dir, tmp_path):
    """partition_by=None creates an unpartitioned table."""
    _log_some(make_logger, 3)
    target = str(tmp_path / "flat")
    flush_to_delta(log_dir=log_dir, path=target, partition_by=None)
    assert DeltaTable(target).metadata().partition_columns == []


def test_partition_by_takes_only_the_schemas_partition_column(log_dir, tmp_path):
    """partition_by other than laketrace.schema.PARTITION_COLUMNS (or None) is a ConfigError
    that names the accepted values, before anything is written."""
    with pytest.raises(laketrace.ConfigError, match=r"partition_by must be one of \['date'\]"):
        flush_to_delta(log_dir=log_dir, path=str(tmp_path / "t"), partition_by="level")
    assert not os.path.exists(tmp_path / "t")


def test_only_sealed_files_are_flushed(make_logger, log_dir, tmp_path):
    """An active file a live writer of another process holds is left for a later flush (this
    process's own loggers are sealed first, see the next tests); once that writer is gone,
    the next flush recovers and ships it."""
    fcntl = pytest.importorskip("fcntl")
    log = make_logger(path=str(tmp_path / "table"))
    log.info("mine")
    record = {"ts": "2025-11-28T13:20:00.000000Z", "level": "INFO", "record_id": "other-1",
              "msg": "still active elsewhere"}  # fmt: skip
    other = os.path.join(
        log_dir, f"other__20251128T132000000000Z__run__{os.getpid() + 1}__000001.jsonl"
    )
    with open(other, "w") as fh:
        fh.write(json.dumps(record) + "\n")
    held = os.open(other, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as the other process's writer holds its active file
    try:
        res = flush_to_delta(log_dir=log_dir, path=str(tmp_path / "table"))
    finally:
        os.close(held)  # the other writer is gone
    assert res.records == 1
    assert flush_to_delta(log_dir=log_dir, path=str(tmp_path / "table")).records == 1
    assert sorted(_table(str(tmp_path / "table")).column("msg").to_pylist()) == [
        "mine",
        "still active elsewhere",
    ]


def test_bad_lines_are_quarantined_not_dropped(make_logger, log_dir, tmp_path):
    """Invalid JSON, wrong types, a torn tail and a foreign file are quarantined and counted."""
    _log_some(make_logger, 10)
    bad = os.path.join(log_dir, "x__20251128T132000000000Z__run__1__000001.sealed.jsonl")
    with open(bad, "w") as fh:
        fh.write(
            '{"ts":"2025-11-28T13:20:00.000000Z","level":"INFO","record_id":"ok1","msg":"ok"}\n'
        )
        fh.write("not json at all\n")
        fh.write('{"ts":"2025-11-28T13:20:00Z","level":"INFO","record_id":"r","pid":"seven"}\n')
        fh.write('{"ts":"2025-11-28T13:20:00Z","level":"INFO"}\n')
        fh.write('{"ts":"2025-11-28T13:20:00Z","level":"INFO","record_id":"torn","m')
    with open(os.path.join(log_dir, "notes.txt"), "w") as fh:
        fh.write("someone's notes\nsecond line\n")
    target = str(tmp_path / "table")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.records == 11 and res.quarantined == 6
    q = _table(target + "_quarantine").to_pylist()
    reasons = {(r["source_file"], r["line_no"]): r["reason"] for r in q}
    name = os.path.basename(bad)
    assert "not valid JSON" in reasons[(name, 2)]
    assert "pid: expected a 32-bit integer" in reasons[(name, 3)]
    assert "missing required field 'record_id'" in reasons[(name, 4)]
    assert "incomplete line" in reasons[(name, 5)]
    assert "foreign file" in reasons[("notes.txt", 1)]
    assert all(r["flush_batch"] == 1 for r in q)
    assert "ok1" in _ids(target)
    again = flush_to_delta(log_dir=log_dir, path=target)
    assert again.quarantined == 0 and len(_table(target + "_quarantine")) == 6


def test_schema_mismatch_is_a_clear_error_and_writes_nothing(make_logger, log_dir, tmp_path):
    """An existing table with other columns: error naming them, nothing written."""
    import pyarrow as pa
    from deltalake import write_deltalake

    target = str(tmp_path / "other")
    write_deltalake(target, pa.table({"id": [1], "msg": [2]}))
    _log_some(make_logger, 2)
    with pytest.raises(SchemaMismatchError) as info:
        flush_to_delta(log_dir=log_dir, path=target)
    text = str(info.value)
    assert "Missing columns" in text and "'record_id'" in text and "id" in text
    assert "msg: int64 (expected string)" in text
    assert DeltaTable(target).version() == 0


def test_small_batches_are_separate_commits(make_logger, log_dir, tmp_path):
    """batch_bytes splits the work into one Delta commit per batch."""
    log = make_logger(rotation="2 KB")
    for i in range(200):
        log.info("record {}", i, pad="q" * 20)
    log.close()
    target = str(tmp_path / "table")
    seen = []
    res = flush_to_delta(log_dir=log_dir, path=target, batch_bytes=5_000, progress=seen.append)
    assert res.batches > 3 and res.records == 200
    assert DeltaTable(target).version() == res.batches
    assert [e["index"] for e in seen] == list(range(1, res.batches + 1))


@pytest.mark.parametrize("method", ["gz", "bz2", "xz", "zip"])
def test_compressed_spool_files_flush(make_logger, log_dir, tmp_path, method):
    """Every compression form is readable by the flush step."""
    _log_some(make_logger, 20, compression=method)
    maintenance.drain(10)
    assert all(n.endswith("." + method) for n in os.listdir(log_dir) if n.endswith(method))
    res = flush_to_delta(log_dir=log_dir, path=str(tmp_path / "t"))
    assert res.records == 20


def test_concurrent_flushes_do_not_duplicate(make_logger, log_dir, tmp_path):
    """Two flushes at once (threads) serialise on the spool lock: every record once."""
    _log_some(make_logger, 300)
    target = str(tmp_path / "table")
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(flush_to_delta(log_dir=log_dir, path=target))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.records for r in results) == [0, 300]
    assert len(set(_ids(target))) == len(_ids(target)) == 300


FLUSH_CHILD = textwrap.dedent(
    """
    import sys, laketrace
    laketrace.flush_to_delta(log_dir=sys.argv[1], path=sys.argv[2])
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_crash_at_each_point_then_flush_is_exactly_once(make_logger, log_dir, tmp_path, point):
    """A flush killed at any fault point (after planning, before, between and after the
    commits, half way through the ledger write), then re-run, leaves every record (and
    every quarantined line) in the tables exactly once."""
    _log_some(make_logger, 120)
    with open(
        os.path.join(log_dir, "x__20251128T132000000000Z__r__1__000001.sealed.jsonl"), "w"
    ) as fh:
        fh.write("broken line\n")
    target = str(tmp_path / "table")
    env = {**os.environ, "LAKETRACE_FAULT": point}
    proc = subprocess.run(
        [sys.executable, "-c", FLUSH_CHILD, log_dir, target],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 77, f"the fault hook should have killed the flush: {proc.stderr}"
    committed_before = DeltaTable.is_deltatable(target) and len(_ids(target)) > 0
    after = POINTS.index(point) >= POINTS.index("after_commit")
    assert committed_before == after
    res = flush_to_delta(log_dir=log_dir, path=target)
    # a torn ledger entry is damage: the ledger is rebuilt from the table, which has it all
    assert res.batches == (0 if point in ("torn_ledger", "after_ledger") else 1)
    assert res.skipped_batches == (1 if point == "after_commit" else 0)
    ids = _ids(target)
    assert len(ids) == 120 == len(set(ids))
    q = _table(target + "_quarantine").to_pylist()
    assert [(r["line_no"], r["raw_line"]) for r in q] == [(1, "broken line")]
    assert flush_to_delta(log_dir=log_dir, path=target).records == 0


def test_missing_log_dir_and_table_without_spark(tmp_path):
    """A missing log_dir and a catalog table without Spark get errors that say what to do."""
    with pytest.raises(ValueError, match="does not exist"):
        flush_to_delta(log_dir=str(tmp_path / "nope"), path=str(tmp_path / "t"))
    os.makedirs(tmp_path / "spool")
    with pytest.raises(ValueError, match="needs Spark"):
        flush_to_delta(log_dir=str(tmp_path / "spool"), table="main.ops.logs")


def test_retention_deletes_only_after_flush(make_logger, log_dir, tmp_path):
    """With a target configured, retention keeps unflushed files and drops them once shipped."""
    target = str(tmp_path / "table")
    log = make_logger(retention=1, path=target)
    for i in range(3):
        log.info("f{}", i)
        log.close()
    maintenance.drain(10)
    assert len([n for n in os.listdir(log_dir) if n.endswith(".sealed.jsonl")]) == 3
    log.flush_to_delta()
    log.info("next")
    log.close()
    maintenance.drain(10)
    assert len([n for n in os.listdir(log_dir) if n.endswith(".sealed.jsonl")]) == 1
    assert sorted(_table(target).column("msg").to_pylist()) == ["f0", "f1", "f2"]


def test_logger_flush_to_delta_uses_configured_target(make_logger, tmp_path):
    """log.flush_to_delta() ships to the logger's configured path."""
    target = str(tmp_path / "cfg_table")
    log = make_logger(path=target)
    log.info("configured")
    res = log.flush_to_delta()
    assert res.records == 1 and _table(target).column("msg").to_pylist() == ["configured"]


def test_public_api_exports_flush():
    """flush_to_delta and FlushResult are part of the public API."""
    assert laketrace.flush_to_delta is flush_to_delta
    assert "FlushResult" in laketrace.__all__


def test_repeated_executor_records_are_deduplicated_at_flush(log_dir, tmp_path):
    """Executor records repeated in the spool (same record_id) land in the table once."""
    os.makedirs(log_dir, exist_ok=True)
    line = (
        '{"ts":"2025-11-28T13:20:00.000000Z","level":"INFO","record_id":"x-abc","msg":"m",'
        '"source":"executor"}\n'
    )
    driver = line.replace("x-abc", "d-1").replace("executor", "driver")
    path = os.path.join(log_dir, "e__20251128T132000000000Z__r__1__000001.sealed.jsonl")
    with open(path, "w") as fh:
        fh.write(line + line + driver + driver)
    res = flush_to_delta(log_dir=log_dir, path=str(tmp_path / "t"))
    assert sorted(_ids(str(tmp_path / "t"))) == ["d-1", "d-1", "x-abc"]
    assert res.records == 3


@pytest.mark.parametrize("enqueue", [False, True])
def test_flush_ships_records_of_live_loggers_in_this_process(
    make_logger, log_dir, tmp_path, enqueue
):
    """flush_to_delta(log_dir=D) first seals this process's active files in D (queues
    drained): every record logged before the flush ships; the loggers keep logging."""
    log = make_logger(enqueue=enqueue)
    elsewhere = make_logger(log_dir=str(tmp_path / "other"))
    for i in range(7):
        log.info("before {}", i)
    elsewhere.info("not this directory")
    target = str(tmp_path / "table")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.records == 7 and len(_ids(target)) == 7
    assert elsewhere._core.spool.file.path is not None  # other directories are untouched
    log.info("after")
    log.close()
    assert flush_to_delta(log_dir=log_dir, path=target).records == 1
