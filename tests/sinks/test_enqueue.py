"""enqueue=True: a background writer thread, bounded queue, drains on close, exit and fork."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from laketrace import get_logger, recover
from laketrace.log import registry
from laketrace.sinks.enqueue import QueuedHandler

from ..conftest import spool_records


def test_enqueue_drains_on_close(make_logger, log_dir):
    """Every queued record is written when close() returns, in order."""
    log = make_logger(enqueue=True)
    for i in range(5_000):
        log.info("r{}", i)
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == [f"r{i}" for i in range(5_000)]


def test_enqueue_flush_makes_records_visible(make_logger, log_dir):
    """flush() returns only after queued records reached the file."""
    log = make_logger(enqueue=True)
    log.info("visible after flush")
    log.flush()
    assert [r["msg"] for r in spool_records(log_dir)] == ["visible after flush"]


def test_enqueue_writes_from_writer_thread(make_logger):
    """The sink runs on the writer thread, not on the caller's."""
    log = make_logger()
    where = []
    log.add_handler(
        {"sink": lambda m: where.append(threading.current_thread().name), "enqueue": True}
    )
    log.info("x")
    log.flush()
    assert where and where[0].startswith("laketrace-writer-")


def test_enqueue_drains_at_interpreter_exit(tmp_path):
    """A process that exits without close() still writes every queued record."""
    code = textwrap.dedent(
        f"""
        import laketrace
        log = laketrace.get_logger("exit", {{"log_dir": {str(tmp_path)!r}, "stdout": False,
                                             "enqueue": True}})
        for i in range(20_000):
            log.info("r{{}}", i)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert len(spool_records(str(tmp_path))) == 20_000


def _blocked_sink(log, **opts):
    entered, release, got = threading.Event(), threading.Event(), []

    def sink(msg):
        got.append(msg.record.message)
        entered.set()
        release.wait(30)

    hid = log.add_handler({"sink": sink, "enqueue": True, "format": "{message}", **opts})
    return hid, entered, release, got


def test_queue_full_blocks_by_default(make_logger):
    """With queue_full='block' the caller waits for space and nothing is lost."""
    log = make_logger()
    _hid, entered, release, got = _blocked_sink(log, queue_size=5)
    log.info("first")
    assert entered.wait(10)
    producer = threading.Thread(target=lambda: [log.info("m{}", i) for i in range(50)])
    producer.start()
    producer.join(0.5)
    assert producer.is_alive(), "the producer should block while the queue is full"
    release.set()
    producer.join(30)
    log.flush()
    assert got == ["first"] + [f"m{i}" for i in range(50)]


def test_queue_full_drop_counts_and_reports(make_logger):
    """With queue_full='drop' records are dropped, counted and reported once space returns."""
    log = make_logger()
    hid, entered, release, got = _blocked_sink(log, queue_size=3, queue_full="drop")
    log.info("first")
    assert entered.wait(10)
    for i in range(20):
        log.info("m{}", i)  # never blocks
    handler = log._core.own[hid]
    assert isinstance(handler, QueuedHandler)
    dropped = handler.dropped
    assert dropped >= 10
    release.set()
    log.flush()
    log.info("after")
    log.flush()
    notices = [m for m in got if "dropped" in m]
    assert len(notices) == 1 and f"dropped {dropped} record(s)" in notices[0]
    delivered = [m for m in got if m.startswith("m")]
    assert len(delivered) + dropped == 20
    assert got[-1] == "after"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_with_enqueue_gives_child_its_own_writer(make_logger, log_dir):
    """A child forked while records are queued gets a working logger and writes only its own."""
    log = make_logger(enqueue=True)
    for i in range(1_000):
        log.info("parent {}", i)
    pid = os.fork()
    if pid == 0:
        try:
            log.info("child")
            log.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    log.close()
    recs = spool_records(log_dir)
    child = [r for r in recs if r["pid"] == pid]
    parent = [r for r in recs if r["pid"] == os.getpid()]
    assert [r["msg"] for r in child] == ["child"]
    assert len(parent) == 1_000


def _mp_child(log_dir: str, k: int, n: int) -> None:
    # fork: the parent's logger (inherited); forkserver/spawn: a logger made in the child
    log = get_logger("mp.enqueue", {"log_dir": log_dir, "stdout": False, "enqueue": True})
    for i in range(n):
        log.info("child {} {}", k, i)
    # no close(): multiprocessing children end with os._exit (fork, forkserver) or exit


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_children_with_enqueue_lose_nothing(log_dir, method):
    """3 multiprocessing children x 300 records with enqueue=True: all 900 reach the spool."""
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    log = get_logger("mp.enqueue", {"log_dir": log_dir, "stdout": False, "enqueue": True})
    log.info("parent before")
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_mp_child, args=(log_dir, k, 300)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    log.info("parent after")
    log.close()
    registry.forget("mp.enqueue")
    recover(log_dir)  # the children's files stay active (os._exit skips close)
    msgs = [r["msg"] for r in spool_records(log_dir)]
    children = {m for m in msgs if m.startswith("child")}
    assert children == {f"child {k} {i}" for k in range(3) for i in range(300)}
    assert len(msgs) == 902


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_ending_with_os_exit_loses_nothing(make_logger, log_dir):
    """A bare os.fork() child that logs with enqueue=True and ends with os._exit keeps it all."""
    log = make_logger(enqueue=True)
    log.info("parent")
    pid = os.fork()
    if pid == 0:
        try:
            for i in range(500):
                log.info("child {}", i)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    log.close()
    recover(log_dir)
    child = [r["msg"] for r in spool_records(log_dir) if r["pid"] == pid]
    assert child == [f"child {i}" for i in range(500)]


KILL_CHILD = """
import os, sys, threading, laketrace
q = int(sys.argv[2])
log = laketrace.get_logger("k9", {"log_dir": sys.argv[1], "stdout": False, "enqueue": True,
                                  "queue_size": q})
for i in range(50):
    log.info("r {}", i)
log.flush()  # 50 written
handler = next(iter(log._core.own.values()))
stall = threading.Event()
real = handler.inner.write_lines
def stalled(lines):  # the disk stops answering: the writer thread hangs in a write
    stall.wait()
handler.inner.write_lines = stalled
for i in range(50, 50 + q):
    log.info("r {}", i)  # accepted: the queue has room for exactly q unwritten records
blocked = threading.Thread(target=log.info, args=("over the bound",), daemon=True)
blocked.start()
blocked.join(0.2)
print("accepted", 50 + q, "blocked" if blocked.is_alive() else "returned", flush=True)
stall.wait()
"""


def test_kill_9_with_enqueue_loses_at_most_queue_size(log_dir):
    """kill -9 with enqueue=True loses at most queue_size accepted records (here exactly all)."""
    os.makedirs(log_dir)
    q = 100
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, log_dir, str(q)], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert line == ["accepted", str(50 + q), "blocked"]  # call q+1 waits instead of queueing
    recover(log_dir)
    on_disk = sorted(int(r["msg"].split()[1]) for r in spool_records(log_dir))
    assert on_disk == list(range(50))
    assert 50 + q - len(on_disk) == q  # what kill -9 cost: the queue bound, not more


def _pool_task(args: tuple[str, int]) -> int:
    log_dir, k = args
    log = get_logger("pool.enqueue", {"log_dir": log_dir, "stdout": False, "enqueue": True})
    for i in range(100):
        log.info("task {} {}", k, i)
    return k


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_pool_workers_with_enqueue_lose_nothing(log_dir, method):
    """Pool workers that make an enqueue=True logger drain it when the pool is closed and joined."""
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    os.makedirs(log_dir)
    pool = mp.get_context(method).Pool(2, maxtasksperchild=1)  # each worker exits after a task
    try:
        assert sorted(pool.map(_pool_task, [(log_dir, k) for k in range(4)])) == [0, 1, 2, 3]
    finally:
        pool.close()
        pool.join()
    recover(log_dir)
    assert len(spool_records(log_dir)) == 400
