"""LakeTrace on a real Spark Connect server: the Connect writer, the listener's fallback and
the notebooks' quick start, as on Databricks serverless and shared compute.

A process has one SparkContext and the suite's ``local[2]`` session lives in this one, and
a Connect client must not share a JVM with its server anyway. So ``connect_server.py``
runs the server (``local[2]`` with Delta and the Spark Connect plugin, what
``SparkSession.builder.remote("local[2]")`` starts) in a child process on a free port, and
``connect_scenarios.py`` runs every scenario in a second child, a pure Connect client
(``SparkSession.builder.remote(url)``), which writes ``results.json``. The tests assert on
that and on the Delta tables the scenarios wrote (read here with delta-rs).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, "connect_server.py")
SCENARIOS = os.path.join(HERE, "connect_scenarios.py")
START_TIMEOUT = 300  # seconds for the server to listen (Ivy resolves the Delta jars)
RUN_TIMEOUT = 600  # seconds for every scenario; a healthy run takes 1-2 minutes on 2 cores


def _skip_without_connect() -> None:
    import pyspark

    if int(pyspark.__version__.split(".")[0]) < 4:
        pytest.skip(
            "Spark Connect is tested on Spark 4 only: ./scripts/setup installs the "
            "`connect` extra (pyspark[connect]) into .venv, not into .venv-spark35"
        )
    try:
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies("pyspark.sql.connect.session")
    except Exception as exc:
        pytest.skip(f"the Spark Connect client is not installed ({exc}): ./scripts/setup")


@dataclass
class ConnectRun:
    """What the client saw (``results``) and the child processes' output."""

    results: dict[str, Any]
    workdir: str
    output: str

    def scenario(self, name: str) -> Any:
        """A scenario's results; fails with its traceback (and the output) if it broke."""
        errors = self.results.get("errors", {})
        for key in ("setup", name):
            if key in errors:
                pytest.fail(f"scenario {key!r} failed on Spark Connect:\n{errors[key]}")
        assert name in self.results, f"scenario {name!r} did not run:\n{self.output[-3000:]}"
        return self.results[name]


_DROP = (
    "LAKETRACE_RUNTIME",
    "LAKETRACE_RUN_ID",
    "LAKETRACE_LOG_DIR",
    "LAKETRACE_FAULT",
    "DATABRICKS_RUNTIME_VERSION",
)


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROP and not k.startswith(("SPARK_REMOTE", "SPARK_CONNECT", "SPARK_LOCAL"))
    }
    # the server, its Python workers and the client import this checkout's code
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(workdir: str, out: Any) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, SERVER, str(port), os.path.join(workdir, "warehouse")],
        cwd=workdir,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its JVM and Python workers share its process group
    )
    ready = os.path.join(workdir, "server-ready")
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_server(proc)
            return proc, 0
        time.sleep(0.1)
    return proc, port


def _stop_server(proc: subprocess.Popen) -> None:
    """End the server's process group: SIGTERM (the JVM's shutdown hooks remove Spark's
    temporary files, much faster than a graceful ``spark.stop()``), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(grace)
            break
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdin is not None:
        proc.stdin.close()


@pytest.fixture(scope="module")
def connect_run(tmp_path_factory: pytest.TempPathFactory) -> ConnectRun:
    """Start a Connect server, run every scenario in one client process, load the results."""
    _skip_without_connect()
    workdir = str(tmp_path_factory.mktemp("connect"))
    log_path = os.path.join(workdir, "output.txt")
    t0 = time.monotonic()
    with open(log_path, "wb") as out:
        server, port = _start_server(workdir, out)
        started = time.monotonic() - t0
        try:
            client = None
            if port:
                client = subprocess.Popen(
                    [sys.executable, SCENARIOS, workdir, f"sc://127.0.0.1:{port}"],
                    cwd=workdir,
                    env=_env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    client.wait(RUN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(client.pid, signal.SIGKILL)
                    client.wait()
        finally:
            _stop_server(server)
    with open(log_path, errors="replace") as fh:
        output = fh.read()
    if not port:
        pytest.fail(f"the Spark Connect server did not start:\n{output[-6000:]}")
    results_path = os.path.join(workdir, "results.json")
    if not os.path.exists(results_path):
        rc = client.returncode if client else None
        pytest.fail(f"the Connect client wrote no results (rc {rc}):\n{output[-6000:]}")
    with open(results_path) as fh:
        results = json.load(fh)
    results["timings"]["server_start"] = round(started, 2)
    print(f"Spark Connect {results.get('spark_version')}: timings {results['timings']}")
    return ConnectRun(results, workdir, output)


def _count(msgs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in msgs:
        out[m] = out.get(m, 0) + 1
    return out


def test_the_client_is_a_pure_connect_session(connect_run):
    """The scenarios ran on a Spark Connect client session, not a classic one."""
    assert connect_run.results["session_module"].startswith("pyspark.sql.connect")


def test_flushing_twice_to_a_catalog_table_ships_every_record_once(connect_run):
    """Two flushes through Connect: 20 records once, a foreign file quarantined once (in the
    table ``quarantine=`` names, not the default one), and the flush's operations tagged
    ``laketrace-flush`` (the tag removed afterwards)."""
    res = connect_run.scenario("once")
    assert res["first"]["writer"] == "connect"
    assert (res["first"]["records"], res["first"]["quarantined"]) == (20, 1)
    assert (res["second"]["records"], res["second"]["batches"]) == (0, 0)
    assert _count(res["msgs"]) == {f"once {i}": 1 for i in range(20)}
    assert res["quarantine"] == ["notes.txt"] and res["default_quarantine"] is False
    assert res["tags_seen"] and all(t == ["laketrace-flush"] for t in res["tags_seen"])
    assert res["tags_after"] == [], "the flush left its operation tag on the session"


@pytest.mark.parametrize("point", ["after_commit", "between_commits"])
def test_a_flush_killed_mid_batch_then_rerun_ships_every_record_once(connect_run, point):
    """A Connect flush dying at a fault point, then another flush: each record once."""
    res = connect_run.scenario("crash")[point]
    assert res["rc"] == 77, "the child flush did not die at the fault point"
    assert _count(res["msgs"]) == {f"crash {point} {i}": 1 for i in range(10)}
    assert res["quarantine"] == ["notes.txt"]
    assert (res["again"]["records"], res["again"]["batches"]) == (0, 0)
    if point == "after_commit":  # the commit was in: the re-run finds it and skips
        assert (res["rerun"]["records"], res["rerun"]["skipped_batches"]) == (0, 1)
    else:  # only the quarantine commit was in: the re-run appends the records
        assert (res["rerun"]["records"], res["rerun"]["quarantined"]) == (10, 0)


def test_records_another_writer_committed_are_not_shipped_again(connect_run):
    """A lost ledger and rows committed without LakeTrace metadata: shipped idempotently."""
    res = connect_run.scenario("idempotent")
    assert res["result"]["idempotent_batches"] >= 1, res["result"]
    assert res["result"]["records"] == 3  # only idem 6..8 were new
    assert _count(res["msgs"]) == {f"idem {i}": 1 for i in range(9)}


def test_install_on_connect_warns_once_and_falls_back_to_the_timer(connect_run):
    """install() on Connect: timer mode, one WARNING, the same handle on a second call."""
    res = connect_run.scenario("timer")
    assert res["mode"] == "timer" and res["same_handle"]
    assert len(res["warnings"]) == 1, res["warnings"]
    assert "Spark Connect session" in res["warnings"][0]


def test_the_timer_flush_ships_records_while_a_job_runs(connect_run):
    """Records logged during a held Connect job reach the table before the job ends."""
    res = connect_run.scenario("timer")
    assert res["shipped_during_job"] and res["alive_after_flush"]
    assert sorted(res["shipped_during_job"]) == [f"timer during job {i}" for i in range(5)]
    assert res["job"] == {"result": [0, 1, 2, 3]}, "the held job failed"
    assert res["writers"] == ["connect"] and res["errors"] == []


def test_the_exit_flush_ships_what_a_connect_client_logged(connect_run):
    """A client that installs the listener, logs and exits: its records are in the table."""
    res = connect_run.scenario("exit")
    assert res["rc"] == 0
    assert _count(res["msgs"]) == {f"exit {i}": 1 for i in range(7)}


def test_the_notebook_quick_start_runs_unchanged_on_connect(connect_run):
    """The Fabric notebook's cells run on a Connect ``spark`` and flush through Connect."""
    res = connect_run.scenario("quickstart")
    assert (res["writer"], res["handle_mode"], res["proxy_mode"]) == ("connect", "timer", "noop")
    msgs = [r["msg"] for r in res["rows"]]
    assert {"notebook started", "cleaned 8571 rows", "a bad value was skipped"} <= set(msgs)
    warnings = [r["msg"] for r in res["rows"] if r["level"] == "WARNING"]
    assert any("Spark listener unavailable" in m for m in warnings), warnings
    assert any("executor logging falls back to noop" in m for m in warnings), warnings
    assert "a bad value was skipped" in res["printed"], "the errors view query printed nothing"
    # no SparkContext in a Connect client: no Spark ids in the records
    assert {(r["app_id"], r["job_id"], r["job_group"]) for r in res["rows"]} == {(None, None, None)}
