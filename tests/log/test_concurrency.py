"""Threads and fork: nothing lost, nothing interleaved, no deadlock in a forked child."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from laketrace.spool.names import list_spool

from ..conftest import spool_lines


def test_many_threads_lose_and_interleave_nothing(make_logger, log_dir):
    """16 threads x 2,000 records: every line parses and every record is present once."""
    log = make_logger(rotation="256 KB")
    threads_n, per_thread = 16, 2_000
    barrier = threading.Barrier(threads_n)

    def work(t):
        barrier.wait()
        b = log.bind(thread=t)
        for i in range(per_thread):
            b.info("record {}", i, seq=i, pad="x" * (i % 50))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    log.close()
    lines = spool_lines(log_dir)
    assert all(line.endswith(b"\n") for line in lines)
    recs = [json.loads(line) for line in lines]
    keys = {(r["context"]["thread"], r["context"]["seq"]) for r in recs}
    assert len(recs) == threads_n * per_thread
    assert len(keys) == threads_n * per_thread
    assert len({r["record_id"] for r in recs}) == len(recs)
    assert len(list_spool(log_dir)) > 1  # rotation happened under contention


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_writes_own_file_and_does_not_deadlock(make_logger, log_dir):
    """After fork the child logs to its own pid-named file even if a lock was held."""
    log = make_logger()
    log.info("parent before fork")
    core = log._core
    spool_lock = core.spool.file.lock
    # Hold the spool lock in another thread while forking: a naive child would deadlock.
    held = threading.Event()
    release = threading.Event()

    def hold():
        with spool_lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # child
        try:
            log.info("child record")
            log.close()
            os._exit(0)
        except BaseException:
            os._exit(3)
    release.set()
    holder.join()
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("forked child deadlocked while logging")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    log.info("parent after fork")
    log.close()
    by_pid: dict[int, list[str]] = {}
    for line in spool_lines(log_dir):
        rec = json.loads(line)
        by_pid.setdefault(rec["pid"], []).append(rec["msg"])
    assert by_pid[os.getpid()] == ["parent before fork", "parent after fork"]
    assert by_pid[pid] == ["child record"]
    child_files = [n for p, n in list_spool(log_dir) if n.pid == pid]
    assert len(child_files) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_record_ids_differ(make_logger, log_dir):
    """Parent and child never produce the same record_id."""
    log = make_logger()
    log.info("p1")
    pid = os.fork()
    if pid == 0:
        log.info("c1")
        log.close()
        os._exit(0)
    os.waitpid(pid, 0)
    log.info("p2")
    log.close()
    ids = [json.loads(x)["record_id"] for x in spool_lines(log_dir)]
    assert len(ids) == 3 and len(set(ids)) == 3
