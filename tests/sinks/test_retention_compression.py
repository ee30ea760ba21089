"""Retention and compression of sealed files, including crash safety and unflushed files."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from laketrace import recover
from laketrace.sinks import lifecycle as _lifecycle
from laketrace.sinks.lifecycle import maintenance
from laketrace.spool.ledger import manifest_path
from laketrace.spool.names import list_spool, spool_stem
from laketrace.spool.read import read_records

from ..conftest import spool_records


def _rotate_n(log, n, clock=None):
    for i in range(n):
        log.info("file {}", i)
        log.close()
        if clock is not None:
            clock.advance(60)
    maintenance.drain(10)


def _sealed(log_dir):
    return [p for p, n in list_spool(log_dir) if n.sealed]


def test_retention_count_keeps_newest(make_logger, log_dir, clock):
    """retention=2 keeps the two newest sealed files."""
    log = make_logger(retention=2, clock=clock)
    _rotate_n(log, 5, clock)
    assert [r["msg"] for r in spool_records(log_dir)] == ["file 3", "file 4"]


@pytest.mark.parametrize("age", ["2 min", dt.timedelta(minutes=2)])
def test_retention_age(make_logger, log_dir, clock, age):
    """Age retention deletes sealed files created longer ago than the age (injected clock)."""
    log = make_logger(retention=age, clock=clock)
    _rotate_n(log, 5, clock)  # created at t, t+60 .. t+240; now t+300
    log.info("trigger")
    log.close()
    maintenance.drain(10)
    msgs = [r["msg"] for r in spool_records(log_dir)]
    # at t+300 files 0-2 are older than 2 minutes; file 3 is exactly 2 minutes old
    assert msgs == ["file 3", "file 4", "trigger"]


def test_retention_callable(make_logger, log_dir):
    """A callable gets the sealed files (oldest first) and returns those to delete."""
    calls = []

    def keep_even(paths):
        calls.append(list(paths))
        return [p for i, p in enumerate(paths) if i % 2]

    log = make_logger(retention=keep_even)
    _rotate_n(log, 3)
    assert calls and all(calls[-1][i] < calls[-1][i + 1] for i in range(len(calls[-1]) - 1))
    assert len(_sealed(log_dir)) < 3


def test_retention_never_deletes_active_file(make_logger, log_dir):
    """The active file survives even retention=1 with many rotations."""
    log = make_logger(retention=1, rotation="1 KB")
    for i in range(200):
        log.info("r{}", i, pad="y" * 30)
    maintenance.drain(10)
    active = [p for p, n in list_spool(log_dir) if not n.sealed]
    assert len(active) == 1
    assert len(_sealed(log_dir)) <= 1


def test_retention_holds_back_unflushed_files(make_logger, log_dir, capsys):
    """With a flush target, unflushed sealed files are kept and that is said once."""
    log = make_logger(retention=1, path="/tmp/never-flushed-table")
    _rotate_n(log, 4)
    assert len(_sealed(log_dir)) == 4
    err = capsys.readouterr().err
    assert err.count("retention is holding back") == 1
    # once a flush records the files as shipped, retention may delete them
    stems = [spool_stem(p) for p in _sealed(log_dir)]
    os.makedirs(os.path.dirname(manifest_path(log_dir)), exist_ok=True)
    with open(manifest_path(log_dir), "a") as fh:
        fh.write(
            json.dumps({"event": "planned", "batch": 1, "files": [{"stem": s} for s in stems]})
            + "\n"
        )
        fh.write(json.dumps({"event": "committed", "batch": 1}) + "\n")
    _rotate_n(log, 1)
    assert [r["msg"] for r in spool_records(log_dir)] == ["file 0"]


@pytest.mark.parametrize("method", ["gz", "bz2", "xz", "zip"])
def test_compression_forms_are_readable(make_logger, log_dir, method):
    """Sealed files are compressed in the background and still read back completely."""
    log = make_logger(compression=method)
    _rotate_n(log, 2)
    files = list_spool(log_dir)
    assert [n.compression for _, n in files] == [method, method]
    assert [r["msg"] for r in spool_records(log_dir)] == ["file 0", "file 1"]
    for path, _ in files:
        assert os.stat(path).st_mode & 0o777 == 0o600


def test_compression_callable(make_logger, log_dir):
    """A callable compression gets the sealed path."""
    got = []
    log = make_logger(compression=got.append)
    _rotate_n(log, 1)
    assert len(got) == 1 and got[0].endswith(".sealed.jsonl")


def test_compression_is_off_the_hot_path(make_logger, log_dir, monkeypatch):
    """Compression runs on the maintenance thread, never on the logging thread."""
    import threading

    threads = []
    real = _lifecycle.compress_file

    def spy(*a, **k):
        threads.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(_lifecycle, "compress_file", spy)
    log = make_logger(compression="gz")
    _rotate_n(log, 1)
    assert threads == ["laketrace-maintenance"]


@pytest.mark.parametrize("step", ["written", "renamed"])
def test_crash_during_compression_never_loses_the_original(make_logger, log_dir, monkeypatch, step):
    """A crash after the temp file is written or after the rename loses nothing."""

    class Crash(BaseException):
        pass

    def hook(at, path):
        if at == step:
            raise Crash(at)

    log = make_logger()
    log.info("precious")
    log.close()
    (sealed,) = _sealed(log_dir)
    monkeypatch.setattr(_lifecycle, "fault_hook", hook)
    with pytest.raises(Crash):
        _lifecycle.compress_file(sealed, "gz", tmp_dir=os.path.join(log_dir, "_laketrace", "tmp"))
    monkeypatch.setattr(_lifecycle, "fault_hook", None)
    assert os.path.exists(sealed)  # the original is always still there
    monkeypatch.setattr("laketrace.spool.recover._TMP_MIN_AGE", -1)
    res = recover(log_dir)
    files = list_spool(log_dir)
    assert len(files) == 1
    assert [r["msg"] for r in read_records(files[0][0])] == ["precious"]
    if step == "renamed":
        assert res.removed_duplicates == [sealed]
    else:
        assert res.removed_temp


def test_plain_file_handler_lifecycle(make_logger, tmp_path):
    """Plain file sinks rotate, compress and keep only `retention` rotated siblings."""
    log = make_logger()
    path = tmp_path / "app.log"
    log.add_handler({"sink": str(path), "rotation": "200 B", "retention": 2, "compression": "gz"})
    for i in range(30):
        log.info("line {}", i)
    maintenance.drain(10)
    siblings = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.2"))
    assert len(siblings) == 2 and all(s.endswith(".log.gz") for s in siblings)
    assert "line 29" in path.read_text()
