"""Several processes, kill -9 and disk errors: nothing lost, nothing duplicated."""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys

import pytest

from laketrace import recover
from laketrace.spool.names import list_spool

from ..conftest import spool_lines, spool_records


def _worker(log_dir: str, worker: int, n: int) -> None:
    import laketrace

    log = laketrace.get_logger("mp", {"log_dir": log_dir, "stdout": False, "rotation": "4 KB"})
    for i in range(n):
        log.info("w{} r{}", worker, i, worker=worker, i=i)
    log.close()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_four_processes_with_aggressive_rotation(log_dir, method):
    """4 processes x 5,000 records rotating every 4 KB end with 20,000 unique lines."""
    os.makedirs(log_dir, exist_ok=True)
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_worker, args=(log_dir, w, 5_000)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    lines = spool_lines(log_dir)
    recs = [json.loads(line) for line in lines]  # every line parses
    assert len(recs) == 20_000
    keys = {(int(r["context"]["worker"]), int(r["context"]["i"])) for r in recs}
    assert keys == {(w, i) for w in range(4) for i in range(5_000)}
    files = list_spool(log_dir)
    assert len(files) > 40 and all(n.sealed for _, n in files)
    assert len({n.pid for _, n in files}) == 4


CHILD = """
import sys, laketrace
log = laketrace.get_logger("crashy", {"log_dir": sys.argv[1], "stdout": False,
                                      "rotation": "64 KB"})
i = 0
while True:
    log.info("record {}", i, pad="z" * (i % 100))
    i += 1
    if i == 3000:
        print("ready", flush=True)
"""


@pytest.mark.slow
def test_kill_9_then_recover(log_dir):
    """After kill -9 mid-logging every complete line parses and recover() seals the files."""
    os.makedirs(log_dir, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, log_dir], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = list_spool(log_dir)
    # the active file is left behind (none when the kill hit the creation of the next file)
    active = sum(not n.sealed for _, n in before)
    assert active <= 1
    incomplete = 0
    numbers = []
    for path, _ in before:
        data = open(path, "rb").read()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        incomplete += tail != b""
        numbers += [int(json.loads(x)["msg"].split()[1]) for x in lines]
    assert incomplete <= 1
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3000
    res = recover(log_dir)
    assert len(res.sealed) == active and not res.live
    assert all(n.sealed for _, n in list_spool(log_dir))
    assert recover(log_dir).sealed == []  # idempotent


def test_recover_leaves_live_files_alone(make_logger, log_dir):
    """recover() never seals the active file of a live logger (even in the same process)."""
    log = make_logger()
    log.info("alive")
    res = recover(log_dir)
    assert res.sealed == [] and len(res.live) == 1
    log.info("still writing")
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["alive", "still writing"]


def test_torn_tail_is_skipped_by_readers(log_dir):
    """A torn last line left by a crash is skipped when reading; complete lines survive."""
    os.makedirs(log_dir, exist_ok=True)
    name = "dead__20251128T132000000000Z__run__999999__000001.jsonl"
    with open(os.path.join(log_dir, name), "wb") as fh:
        fh.write(b'{"msg":"complete","level_no":20}\n{"msg":"tor')
    res = recover(log_dir)
    assert len(res.sealed) == 1
    assert [r["msg"] for r in spool_records(log_dir)] == ["complete"]


def test_disk_full_keeps_app_running_reports_and_resumes(
    write_path, make_logger, log_dir, monkeypatch, capsys
):
    """ENOSPC: the app keeps running, one report with the lost count, logging resumes."""
    import laketrace.sinks.file_sink as fs

    log = make_logger()
    log.info("before")
    real_write = os.write
    state = {"full": True}

    def write(fd, data):
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(fs.os, "write", write)
    for i in range(5):
        log.info("lost {}", i)
    state["full"] = False
    log.info("after")
    log.close()
    err = capsys.readouterr().err
    assert err.count("cannot write") == 1 and "ENOSPC" in err
    assert "writing works again after 5 lost record(s)" in err
    assert [r["msg"] for r in spool_records(log_dir)] == ["before", "after"]


def test_partial_write_never_merges_lines(write_path, make_logger, log_dir, monkeypatch):
    """A write that fails halfway leaves a fragment; the next record starts on a new line."""
    import laketrace.sinks.file_sink as fs

    log = make_logger()
    log.info("first")
    real_write = os.write
    calls = {"n": 0}

    def flaky(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:10]))
        if calls["n"] == 2:
            raise OSError(errno.EIO, "I/O error")
        return real_write(fd, data)

    monkeypatch.setattr(fs.os, "write", flaky)
    log.info("torn")
    log.info("next")
    monkeypatch.setattr(fs.os, "write", real_write)
    log.close()
    raw = spool_lines(log_dir)
    parsed = []
    for line in raw:
        try:
            parsed.append(json.loads(line)["msg"])
        except ValueError:
            parsed.append("<fragment>")
    assert parsed == ["first", "<fragment>", "next"]


def test_permission_change_on_file_is_survived(
    write_path, make_logger, log_dir, monkeypatch, capsys
):
    """EACCES from the file system is contained and logging resumes afterwards."""
    import laketrace.sinks.file_sink as fs

    log = make_logger()
    log.info("a")
    real_write = os.write
    flag = {"deny": True}

    def deny(fd, data):
        if flag["deny"]:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_write(fd, data)

    monkeypatch.setattr(fs.os, "write", deny)
    log.info("denied")
    flag["deny"] = False
    log.info("b")
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["a", "b"]
    assert "EACCES" in capsys.readouterr().err


_POSIX_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
fcntl.lockf(fd, fcntl.LOCK_EX)  # a POSIX record lock, as Java's FileChannel.lock takes
print("locked", flush=True)
sys.stdin.read()
"""


def test_recover_leaves_a_file_with_a_posix_lock_alone(log_dir):
    """An active file another process holds a POSIX record lock on (the JVM appender's) is
    live for recover; once that process is gone recover seals it."""
    os.makedirs(log_dir)
    path = os.path.join(
        log_dir, f"x.spark__20260101T000000000000Z__run__{os.getpid()}__000001.jsonl"
    )
    with open(path, "w") as fh:
        fh.write('{"ts": "2026-01-01T00:00:00Z"}\n')
    holder = subprocess.Popen(
        [sys.executable, "-c", _POSIX_HOLDER, path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert recover(log_dir).live == [path]
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert recover(log_dir).sealed == [path[: -len(".jsonl")] + ".sealed.jsonl"]
