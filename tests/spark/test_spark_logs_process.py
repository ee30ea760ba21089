"""Spark's driver log capture across a driver's end: ``spark.stop()`` and ``kill -9``.

Each runs a driver in its own process (it stops or loses its SparkSession)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from laketrace.spool.names import list_spool
from laketrace.spool.read import read_records
from laketrace.spool.recover import recover

STOP = textwrap.dedent(
    """
    import laketrace, spark_listener
    from laketrace import flush_to_delta
    from laketrace.cli.spark_session import local_spark
    from laketrace.spool.names import list_spool
    from laketrace.testing import read_delta

    spark = local_spark("spark-logs-stop")
    spark.sparkContext.setLogLevel("WARN")
    log = laketrace.get_logger("sl.stop", {"log_dir": "spool", "stdout": False,
                                           "path": "lakehouse/logs"})
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.LogManager.getLogger("lt.stop").warn("the JVM before stop")
    log.info("python before stop")
    appender = handle.spark_logs.appender
    spark.stop()   # wrapped by install: detaches the appender, flushes, then stops
    root = jvm.org.apache.logging.log4j.LogManager.getContext(False).getConfiguration()
    names = root.getRootLogger().getAppenders().keySet().toArray()
    assert not [n for n in names if str(n).startswith("LakeTraceSparkLogs")], list(names)
    assert not appender.isAttached()
    rows = read_delta("lakehouse/logs", ["msg", "source", "record_id"]).to_pylist()
    assert [r["msg"] for r in rows if r["source"] == "spark"] == ["the JVM before stop"], rows
    assert "python before stop" in [r["msg"] for r in rows]
    assert len({r["record_id"] for r in rows}) == len(rows)
    assert all(n.sealed for _, n in list_spool("spool"))
    flush_to_delta(None, log_dir="spool", path="lakehouse/logs")  # again: nothing new
    assert read_delta("lakehouse/logs", ["record_id"]).num_rows == len(rows)
    print("ok")
    """
)

CRASH = textwrap.dedent(
    """
    import json, os, sys, time, laketrace, spark_listener
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("spark-logs-kill")
    spark.sparkContext.setLogLevel("WARN")
    log = laketrace.get_logger("sl.kill", {"log_dir": "spool", "stdout": False})
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.LogManager.getLogger("lt.kill").warn("before the crash")
    appender = handle.spark_logs.appender
    deadline = time.monotonic() + 60  # the JVM writer thread writes it asynchronously
    while time.monotonic() < deadline and not (
        appender.activePath() and os.path.getsize(appender.activePath()) > 0
    ):
        time.sleep(0.05)
    print("LT-READY " + json.dumps({"path": appender.activePath()}), flush=True)
    sys.stdin.read()  # until killed
    """
)


@pytest.mark.slow
def test_spark_stop_detaches_seals_and_flushes_exactly_once(tmp_path):
    """spark.stop() detaches the appender and its records reach Delta once, all files sealed."""
    out = subprocess.run(
        [sys.executable, "-c", STOP], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_kill_9_leaves_a_file_recover_seals(tmp_path):
    """A live JVM's spool file is left alone by recover; after kill -9 recover seals it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        seen = []
        for line in proc.stdout or ():  # Spark may print other lines (ivy) to stdout first
            seen.append(line)
            if line.startswith("LT-READY "):
                break
        assert seen and seen[-1].startswith("LT-READY "), "".join(seen)[-3000:]
        path = json.loads(seen[-1][len("LT-READY ") :])["path"]
        spool = str(tmp_path / "spool")
        assert path in recover(spool).live  # the JVM holds its lock: not sealed
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    jvm_pid = next(n.pid for p, n in list_spool(spool) if p == path)
    deadline = time.monotonic() + 60  # the JVM of the killed group exits asynchronously
    while time.monotonic() < deadline and not _gone(jvm_pid):
        time.sleep(0.05)
    sealed = recover(spool).sealed
    assert [os.path.basename(p) for p in sealed] == [
        os.path.basename(path).replace(".jsonl", ".sealed.jsonl")
    ]
    recs = list(read_records(sealed[0]))
    assert [(r["source"], r["msg"], r["logger"]) for r in recs] == [
        ("spark", "before the crash", "lt.kill")
    ]
