"""The main job: `laketrace demo` with Spark runs end to end (in its own process)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_spark_demo_end_to_end(tmp_path):
    """The demo flushes driver, executor and listener records and prints the summary."""
    out = subprocess.run(
        [sys.executable, "-m", "laketrace", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    # Ivy's resolution chatter and Spark's log4j lines go to a file under the workdir
    for chatter in (":: loading settings", "resolving dependencies", "artifacts", "WARN "):
        assert chatter not in out.stdout + out.stderr
    jvm_log = (tmp_path / "spark-jvm.log").read_text()
    # Spark 4 names its log4j profile there; Spark 3.5 may only print the log-level hint
    assert any(mark in jvm_log for mark in ("log4j", "setLogLevel", "WARN")), jvm_log[:2000]
    assert out.stdout.startswith("[")
    assert "== Runs (logs_runs view) ==" in text
    assert "simulated executor hiccup" in text  # the failed-then-retried task, as an error
    assert "KeyError: 'apac'" in text
    from laketrace.testing import read_delta

    path = str(tmp_path / "lakehouse" / "laketrace_logs")
    rows = read_delta(path, ["source", "msg"]).to_pylist()
    sources = {r["source"] for r in rows}
    assert {"driver", "executor", "listener"} <= sources
    assert any(r["msg"] == "partition scored" for r in rows)
