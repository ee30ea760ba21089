"""The memory-mapped spool writer: reserved segments, readers, sealing, crashes, fork, disk full.

Every test runs once per JSON backend (orjson and the stdlib ``json`` module).
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading

import pytest

from laketrace import recover
from laketrace.read.follow import Follower
from laketrace.read.tail import tail_records
from laketrace.record import encoding as _encoding
from laketrace.sinks import mmap_segment
from laketrace.spool.names import list_spool

from ..conftest import spool_records

pytestmark = pytest.mark.skipif(
    mmap_segment.mmap_unavailable() is not None, reason="no posix_fallocate here"
)


@pytest.fixture(autouse=True, params=["orjson", "json"])
def backend(request, monkeypatch):
    """Run each test once per JSON backend, with mapping on whatever the environment says."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    monkeypatch.delenv(mmap_segment.WRITER_ENV, raising=False)
    previous = _encoding.BACKEND
    _encoding.set_backend(request.param)
    yield request.param
    _encoding.set_backend(previous)


def _files(log_dir):
    return list(list_spool(log_dir))


def _disk_full(fd, offset, length):
    """A reservation on a full disk."""
    raise OSError(errno.ENOSPC, "No space left on device")


def _active(log_dir):
    (path,) = [p for p, n in list_spool(log_dir) if not n.sealed]
    return path


def test_active_file_is_reserved_and_sealing_truncates(make_logger, log_dir):
    """An active file holds reserved NULs after its lines; the sealed file holds only lines."""
    log = make_logger()
    for i in range(3):
        log.info("r{}", i)
    data = open(_active(log_dir), "rb").read()
    used = data.index(b"\0")
    assert data[:used].count(b"\n") == 3 and data[used:].strip(b"\0") == b""
    log.close()
    ((path, name),) = _files(log_dir)
    sealed = open(path, "rb").read()
    assert name.sealed and sealed == data[:used]


def test_readers_stop_at_the_reserved_tail(make_logger, log_dir):
    """tail and --follow read an active mapped file's records and nothing of its reserved tail."""
    log = make_logger()
    log.info("one")
    follower = Follower(log_dir, out=io.StringIO())  # starts at the used length, not the size
    log.info("two")
    log.info("three")
    assert follower.poll() == 2
    out = follower.out.getvalue()
    assert "two" in out and "three" in out and "one" not in out
    assert [r["msg"] for r in tail_records(log_dir, 10, print_out=False)] == [
        "one",
        "two",
        "three",
    ]
    assert follower.poll() == 0


def test_lines_grow_across_segments_and_rotate(make_logger, log_dir, monkeypatch):
    """Records crossing many small segments and size rotations all arrive, in order, whole."""
    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 4096)
    log = make_logger(rotation="20 KB")
    for i in range(600):
        log.info("record {}", i, pad="x" * (i % 300))
    log.close()
    files = _files(log_dir)
    assert len(files) > 5 and all(n.sealed for _, n in files)
    for path, _ in files:
        data = open(path, "rb").read()
        assert b"\0" not in data and data.endswith(b"\n")
        assert os.path.getsize(path) <= 20 * 1024
    assert [r["msg"] for r in spool_records(log_dir)] == [f"record {i}" for i in range(600)]


def test_threads_never_interleave(make_logger, log_dir, monkeypatch):
    """Four threads copying into one mapping leave only whole lines, each record once."""
    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 8192)
    log = make_logger()

    def work(t):
        for i in range(500):
            log.info("t{} r{}", t, i, t=t, i=i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    log.close()
    recs = spool_records(log_dir)
    assert len(recs) == 2000
    keys = {(r["context"]["t"], r["context"]["i"]) for r in recs}
    assert keys == {(str(t), str(i)) for t in range(4) for i in range(500)}


def test_fork_child_writes_its_own_file(make_logger, log_dir):
    """A forked child writes its own mapped file and never into the parent's mapping."""
    log = make_logger()
    log.info("parent before")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            log.info("child")
            log.close()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.info("parent after")
    log.close()
    by_pid = {}
    for path, name in _files(log_dir):
        assert b"\0" not in open(path, "rb").read()
        by_pid.setdefault(name.pid, []).extend(r["msg"] for r in spool_records_of(path))
    assert by_pid == {os.getpid(): ["parent before", "parent after"], pid: ["child"]}


def spool_records_of(path):
    from laketrace.spool.read import read_records

    return list(read_records(path))


def test_disk_full_at_reservation_falls_back_to_write(make_logger, log_dir, monkeypatch, capsys):
    """ENOSPC from the reservation is reported; the file goes on with write(), losing nothing."""
    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 4096)
    log = make_logger()
    log.info("mapped")

    monkeypatch.setattr(mmap_segment, "_fallocate", _disk_full)
    big = "y" * (mmap_segment.SEGMENT_BYTES * 2)
    log.info("beyond the reservation", big=big)
    log.info("after")
    err = capsys.readouterr().err
    assert err.count("cannot reserve space") == 1 and "ENOSPC" in err
    data = open(_active(log_dir), "rb").read()
    assert b"\0" not in data  # truncated to its used length before write() appended
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == [
        "mapped",
        "beyond the reservation",
        "after",
    ]


def test_a_reservation_that_fails_part_way_leaves_no_nuls(make_logger, log_dir, monkeypatch):
    """A posix_fallocate that grew the file before failing with ENOSPC leaves no NUL gap:
    later write() records follow the used length, so recover() cannot cut them off."""
    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 4096)

    def part_way(fd, offset, length):
        os.ftruncate(fd, offset + length // 2)  # blocks allocated before the disk filled
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mmap_segment, "_fallocate", part_way)
    log = make_logger()
    log.info("first")
    log.info("second")
    data = open(_active(log_dir), "rb").read()
    assert b"\0" not in data and data.count(b"\n") == 2
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["first", "second"]


def test_disk_full_everywhere_counts_lost_records(make_logger, log_dir, monkeypatch, capsys):
    """When the reservation and write() both fail, the lost records are counted and reported."""
    import laketrace.sinks.file_sink as fs

    disk = {"full": True}
    real_fallocate, real_write = mmap_segment._fallocate, os.write

    def fallocate(*args):
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fallocate(*args)

    def write(*args):
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(*args)

    monkeypatch.setattr(mmap_segment, "_fallocate", fallocate)
    monkeypatch.setattr(fs.os, "write", write)
    log = make_logger()
    for i in range(3):
        log.info("lost {}", i)
    disk["full"] = False
    log.info("after")
    log.close()
    err = capsys.readouterr().err
    assert "cannot reserve space" in err and "cannot write" in err
    assert "writing works again after 3 lost record(s)" in err
    assert [r["msg"] for r in spool_records(log_dir)] == ["after"]


def test_unsupported_reservation_uses_write_quietly(
    make_logger, log_dir, monkeypatch, capsys, caplog
):
    """A file system without fallocate: write() is used, said once at DEBUG, nothing on stderr."""

    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(mmap_segment, "_fallocate", unsupported)
    monkeypatch.setattr(mmap_segment, "_told", set())
    with caplog.at_level(logging.DEBUG, logger="laketrace.spool"):
        log = make_logger()
        log.info("a")
        log.info("b")
    assert b"\0" not in open(_active(log_dir), "rb").read()
    log.close()
    assert capsys.readouterr().err == ""
    assert sum("not supported here" in r.getMessage() for r in caplog.records) == 1
    assert [r["msg"] for r in spool_records(log_dir)] == ["a", "b"]


def test_a_platform_without_posix_fallocate_uses_write(
    make_logger, log_dir, monkeypatch, capsys, caplog
):
    """Without os.posix_fallocate (macOS) spool files are written with write(), said at DEBUG."""
    monkeypatch.delattr(os, "posix_fallocate")
    monkeypatch.setattr(mmap_segment, "_told", set())
    with caplog.at_level(logging.DEBUG, logger="laketrace.spool"):
        log = make_logger()
        log.info("a")
    assert open(_active(log_dir), "rb").read().endswith(b"\n")  # no reserved NULs
    log.close()
    assert capsys.readouterr().err == ""
    assert sum("not available on this platform" in r.getMessage() for r in caplog.records) == 1
    assert [r["msg"] for r in spool_records(log_dir)] == ["a"]


def test_disk_full_from_os_posix_fallocate_falls_back(make_logger, log_dir, monkeypatch, capsys):
    """ENOSPC raised by os.posix_fallocate itself is reported once and nothing is lost."""
    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 4096)
    log = make_logger()
    log.info("mapped")

    monkeypatch.setattr(os, "posix_fallocate", _disk_full)
    for i in range(3):
        log.info("after {}", i, pad="z" * 3000)
    log.close()
    assert capsys.readouterr().err.count("cannot reserve space") == 1
    assert [r["msg"] for r in spool_records(log_dir)] == ["mapped", "after 0", "after 1", "after 2"]


def test_env_forces_the_write_path(make_logger, log_dir, monkeypatch):
    """LAKETRACE_SPOOL_WRITER=write keeps active files free of reserved space."""
    monkeypatch.setenv(mmap_segment.WRITER_ENV, "write")
    log = make_logger()
    log.info("plain")
    path = _active(log_dir)
    assert open(path, "rb").read().endswith(b"\n")
    log.close()


def test_recover_truncates_a_dead_writers_file(log_dir):
    """recover() cuts a dead writer's reserved tail; a torn record stays for the quarantine."""
    os.makedirs(log_dir, exist_ok=True)
    name = "dead__20251128T132000000000Z__run__999999__000001.jsonl"
    body = b'{"msg":"complete","level_no":20}\n{"msg":"tor'
    with open(os.path.join(log_dir, name), "wb") as fh:
        fh.write(body + b"\0" * 5000)
    res = recover(log_dir)
    assert len(res.sealed) == 1
    assert open(res.sealed[0], "rb").read() == body
    assert [r["msg"] for r in spool_records(log_dir)] == ["complete"]


CHILD = """
import random, sys
from laketrace.record import encoding
from laketrace.sinks import mmap_segment
encoding.set_backend(sys.argv[2])
mmap_segment.SEGMENT_BYTES = 8192
import laketrace
log = laketrace.get_logger("crashy", {"log_dir": sys.argv[1], "stdout": False,
                                      "rotation": "64 KB"})
ready = random.Random(int(sys.argv[3])).randrange(200, 4000)
i = 0
while True:
    log.info("record {}", i, pad="z" * (i % 150))
    i += 1
    if i == ready:
        print("ready", ready, flush=True)
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_random_points_loses_nothing_logged(log_dir, backend, seed):
    """kill -9 at a random point: every record logged before it is a complete line, in order."""
    os.makedirs(log_dir, exist_ok=True)
    env = dict(os.environ)
    env.pop(mmap_segment.WRITER_ENV, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, log_dir, backend, str(seed + random.randrange(10**6))],
        stdout=subprocess.PIPE,
        env=env,
    )
    line = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    proc.stdout.close()
    assert line[0] == b"ready"
    logged = int(line[1])
    reserved = 0
    for path, name in list_spool(log_dir):
        reserved += (not name.sealed) and b"\0" in open(path, "rb").read()
    res = recover(log_dir)
    assert not res.live and all(n.sealed for _, n in list_spool(log_dir))
    numbers, torn = [], 0
    for path, _ in list_spool(log_dir):
        lines = open(path, "rb").read().split(b"\n")
        # the record being copied at the kill may be torn anywhere (a copy need not run
        # front to back), NULs included; it has no newline, and the flush quarantines it
        torn += lines.pop() != b""
        assert not any(b"\0" in x for x in lines)
        numbers += [int(json.loads(x)["msg"].split()[1]) for x in lines]
    assert torn <= 1 and reserved <= 1
    assert numbers == list(range(len(numbers))) and len(numbers) >= logged
