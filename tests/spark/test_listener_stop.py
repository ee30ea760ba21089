"""spark.stop() flushes first; the streaming listener logs query start and termination.

Runs in its own process because it stops its SparkSession."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, laketrace, spark_listener
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("stop-test")
    log = laketrace.get_logger("stop.test", {"log_dir": "spool", "stdout": False,
                                             "path": "lakehouse/logs"})
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    handle.flusher.last = __import__("time").monotonic()  # no job-end flush: only stop's
    q = (spark.readStream.format("rate").option("rowsPerSecond", 5).load()
         .writeStream.format("memory").queryName("rates").trigger(availableNow=True).start())
    q.awaitTermination(120)
    import io, time
    deadline = time.monotonic() + 60  # the termination event arrives asynchronously
    while time.monotonic() < deadline and not any(
        "terminated" in r["msg"] for r in log.tail(100, file=io.StringIO())
    ):
        time.sleep(0.1)
    log.info("logged just before stop")
    spark.stop()   # wrapped by install: flushes first, then stops
    from laketrace.testing import read_delta  # not to_pyarrow_table: see its docstring
    rows = read_delta("lakehouse/logs", ["msg"]).to_pylist()
    msgs = [r["msg"] for r in rows]
    assert "logged just before stop" in msgs, msgs
    assert any(m.startswith("streaming query") and m.endswith("started") for m in msgs), msgs
    assert any(m.startswith("streaming query") and "terminated" in m for m in msgs), msgs
    print("ok")
    """
)


@pytest.mark.slow
def test_stop_flushes_first_and_streaming_is_logged(tmp_path):
    """Records logged right before spark.stop() reach Delta; streaming events are records."""
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
