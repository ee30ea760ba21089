"""FileSink: every write path contains every error, a planted symlink is never followed, and
close() waits for the compression and retention of the file it sealed."""

from __future__ import annotations

import os
import threading

import pytest

from laketrace.sinks import lifecycle as _lifecycle
from laketrace.spool import names as _names
from laketrace.spool.names import list_spool

from ..conftest import spool_records


def _plant_symlinks(log, victim: str, count: int) -> None:
    """Symlinks at the names the logger's next ``count`` spool files would get."""
    namer = log._core.spool.file.namer
    nxt = next(_names._seq) + 1  # the counter is process-wide: consume one, predict the rest
    for k in range(count):
        name = f"{namer.prefix}__20300101T000000000000Z__{namer.run}__{os.getpid()}__{nxt + k:06d}"
        os.symlink(victim, os.path.join(log.log_dir, name + ".jsonl"))


@pytest.mark.parametrize("enqueue", [False, True])
def test_symlink_at_the_next_spool_name_is_never_followed(
    make_logger, log_dir, tmp_path, monkeypatch, capsys, enqueue
):
    """Symlinks planted at the next spool names: no raise, no write through them, nothing lost."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    log = make_logger(rotation="1 KB", enqueue=enqueue)
    log.info("first")
    log.flush()
    monkeypatch.setattr(_names, "stamp", lambda t: "20300101T000000000000Z")
    _plant_symlinks(log, str(victim), 5)
    for i in range(60):
        log.info("r{}", i, pad="x" * 100)  # rotates about every 8 records
    log.close()
    assert victim.read_text() == "keep\n"
    assert [r["msg"] for r in spool_records(log_dir)] == ["first"] + [f"r{i}" for i in range(60)]
    assert "cannot write" not in capsys.readouterr().err


class Boom(Exception):
    pass


def _break_namer(log, monkeypatch, fail):
    namer = log._core.spool.file.namer
    real = namer.active_path

    def active_path(ts):
        if fail["on"]:
            raise Boom("namer exploded")
        return real(ts)

    monkeypatch.setattr(namer, "active_path", active_path)


@pytest.mark.parametrize("enqueue", [False, True])
def test_any_error_while_opening_is_contained_counted_and_reported_once(
    make_logger, log_dir, monkeypatch, capsys, enqueue
):
    """A non-OSError from opening a file never raises; lost records are counted, said once."""
    log = make_logger(enqueue=enqueue)
    fail = {"on": True}
    _break_namer(log, monkeypatch, fail)
    for i in range(5):
        log.info("lost {}", i)  # the fast path (or the enqueue writer) opens the file
    log.flush()
    fail["on"] = False
    log.info("after")
    log.close()
    err = capsys.readouterr().err
    assert err.count("cannot write") == 1 and "Boom" in err
    assert "writing works again after 5 lost record(s)" in err
    assert [r["msg"] for r in spool_records(log_dir)] == ["after"]


def test_error_on_the_general_path_and_in_seal_is_contained(
    make_logger, log_dir, monkeypatch, capsys
):
    """Records built on the general path (exceptions attached) and seal() survive any error."""
    log = make_logger()
    log.info("kept")
    fail = {"on": True}
    _break_namer(log, monkeypatch, fail)

    def sealed_path(active, opened_at):
        raise Boom("no sealed name")

    monkeypatch.setattr(log._core.spool.file.namer, "sealed_path", sealed_path)
    log.close()  # seal fails: contained and reported
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("with traceback")  # general path; the open fails
    fail["on"] = False
    monkeypatch.undo()
    log.info("after")
    log.close()
    err = capsys.readouterr().err
    assert "could not seal" in err and "recover() will" in err
    from laketrace import recover

    recover(log_dir)
    assert [r["msg"] for r in spool_records(log_dir)] == ["kept", "after"]


def test_catch_false_still_raises_write_errors(make_logger, monkeypatch):
    """With catch=False the caller asked for errors: the write error reaches it."""
    log = make_logger(catch=False)
    _break_namer(log, monkeypatch, {"on": True})
    with pytest.raises(Boom):
        log.info("raises")


def test_close_waits_for_compression(make_logger, log_dir):
    """close() returns only after the sealed file is compressed (a copy after close is whole)."""
    started = threading.Event()
    close_called = threading.Event()

    def compress(path):
        started.set()
        close_called.wait(30)  # without the wait in close() the check below runs first
        _lifecycle.compress_file(path, "gz")

    log = make_logger(compression=compress)
    for i in range(1000):
        log.info("r{}", i)
    close_called.set()
    log.close()
    assert started.is_set()
    files = list_spool(log_dir)
    assert [n.compression for _, n in files] == ["gz"]
    assert len(spool_records(log_dir)) == 1000


def test_close_waits_for_retention(make_logger, log_dir, clock):
    """close() returns only after retention of the file it sealed has run."""
    log = make_logger(retention=1, clock=clock)
    for i in range(4):
        log.info("f{}", i)
        log.close()
        assert len(list_spool(log_dir)) == 1


def test_close_wait_is_bounded(make_logger, log_dir, monkeypatch, capsys):
    """A compression that hangs makes close() give up after CLOSE_WAIT and say so."""
    release = threading.Event()
    monkeypatch.setattr(_lifecycle, "CLOSE_WAIT", 0.05)
    log = make_logger(compression=lambda path: release.wait(30))
    log.info("x")
    log.close()
    release.set()
    assert "still running after" in capsys.readouterr().err
    _lifecycle.maintenance.drain(30)
