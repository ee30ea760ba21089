"""Races with live writers, flush side: files that move or vanish while listed (compressed
by a live logger, deleted by retention, sealed by their owner) are expected, never errors,
and never lose or duplicate a record."""

from __future__ import annotations

import os
import threading

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from laketrace import flush_to_delta, recover
from laketrace.sinks.lifecycle import maintenance
from laketrace.spool import recover as recover_mod
from laketrace.testing import read_delta


def test_flush_while_a_gz_logger_rotates_and_compresses(make_logger, log_dir, tmp_path):
    """Flushes running while a logger with compression='gz' rotates and compresses never
    raise (today: FileNotFoundError on every try), and every record lands once."""
    target = str(tmp_path / "t")
    log = make_logger(rotation="1 KB", compression="gz")
    done = threading.Event()
    n = 1500

    def write():
        for i in range(n):
            log.info("live {}", i)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    flushes = 0
    while not done.is_set() or flushes < 3:
        flush_to_delta(log_dir=log_dir, path=target)
        flushes += 1
    writer.join()
    log.close()
    maintenance.drain(30)
    flush_to_delta(log_dir=log_dir, path=target)
    msgs = read_delta(target, ["msg"]).column("msg").to_pylist()
    assert sorted(msgs) == sorted(f"live {i}" for i in range(n))


def test_recover_skips_files_that_move_while_it_works(log_dir, monkeypatch):
    """recover() treats an active file renamed by its owner (sealed or compressed) between
    listing and sealing as expected, not as a crash."""
    os.makedirs(log_dir)
    path = os.path.join(log_dir, "a__20251128T132000000000Z__r__999999__000001.jsonl")
    with open(path, "w") as fh:
        fh.write("{}\n")
    real = os.rename

    def owner_got_there_first(src, dst):
        os.unlink(src)  # its owner sealed and compressed it a moment earlier
        return real(src, dst)

    monkeypatch.setattr(recover_mod.os, "rename", owner_got_there_first)
    res = recover(log_dir)
    assert res.sealed == [] and res.live == [path]


def test_recover_with_missing_or_vanishing_internal_dir(log_dir):
    """recover() on a spool without _laketrace/ (or with it removed) does nothing wrong."""
    os.makedirs(log_dir)
    assert recover(log_dir).sealed == []
