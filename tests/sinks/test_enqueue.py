"""enqueue=True: a background writer thread, bounded queue, drains on close, exit and fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

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
