"""LakeTrace on a multi-JVM Spark cluster: ``local-cluster[2,1,1024]`` starts two executor
JVMs, each with its own Python workers, as on a real cluster.

A process has one SparkContext and the suite's ``local[2]`` session lives in this one, so
``cluster_scenarios.py`` runs every scenario in one child process and one cluster session
(startup is the expensive part) and writes ``results.json``. The tests assert on that and
on the Delta table the child flushed: records arrive exactly once with the right Spark ids
when Python workers crash and executor JVMs die, and the listener's flushes run while
jobs do.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from laketrace.runtime import FLUSH_JOB_GROUP
from laketrace.spool.names import list_spool
from laketrace.spool.read import read_records
from laketrace.testing import read_delta

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "cluster_scenarios.py")
TIMEOUT = 900  # seconds for the whole child; a healthy run takes 1-3 minutes on 2 cores
COLUMNS = [
    "record_id",
    "source",
    "level",
    "msg",
    "partition_id",
    "stage_id",
    "task_attempt",
    "job_group",
    "context",
]


@dataclass
class ClusterRun:
    """What the child saw (``results``), the flushed table's rows and the spool's records."""

    results: dict[str, Any]
    rows: list[dict[str, Any]]
    spool: list[dict[str, Any]]
    output: str

    def scenario(self, name: str) -> dict[str, Any]:
        """A scenario's results; fails with its traceback (and the driver output) if it broke."""
        errors = self.results.get("errors", {})
        for key in ("setup", name):
            if key in errors:
                pytest.fail(f"scenario {key!r} failed in the cluster run:\n{errors[key]}")
        assert name in self.results, f"scenario {name!r} did not run:\n{self.output[-3000:]}"
        return self.results[name]  # type: ignore[no-any-return]

    def messages(self, prefix: str) -> dict[str, list[dict[str, Any]]]:
        """Table rows whose msg starts with ``prefix``, grouped by msg."""
        out: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for row in self.rows:
            if row["msg"].startswith(prefix):
                out[row["msg"]].append(row)
        return out

    def listener(self, level: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["source"] == "listener" and r["level"] == level]


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LAKETRACE_RUNTIME", "LAKETRACE_RUN_ID", "LAKETRACE_LOG_DIR")
        and k != "DATABRICKS_RUNTIME_VERSION"
    }
    # the child, its executors and their Python workers import this checkout's code
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> ClusterRun:
    """Run every scenario once on a local-cluster (in a child process) and load the results."""
    workdir = str(tmp_path_factory.mktemp("cluster"))
    log_path = os.path.join(workdir, "driver-output.txt")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, SCRIPT, workdir],
            cwd=workdir,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its JVMs and Python workers share its process group
        )
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(log_path, errors="replace") as fh:
        output = fh.read()
    results_path = os.path.join(workdir, "results.json")
    if not os.path.exists(results_path):
        pytest.fail(f"the cluster run wrote no results (rc {proc.returncode}):\n{output[-6000:]}")
    with open(results_path) as fh:
        results = json.load(fh)
    print(_summary(results))
    table = os.path.join(workdir, "table")
    rows = read_delta(table, COLUMNS).to_pylist() if os.path.isdir(table) else []
    for row in rows:
        row["context"] = dict(row["context"] or [])
    spool = [r for p, _ in list_spool(os.path.join(workdir, "spool")) for r in read_records(p)]
    return ClusterRun(results, rows, spool, output)


def _summary(results: dict[str, Any]) -> str:
    flush = results.get("flush", {})
    parts = [f"pyspark {results.get('spark_version')}: total {results.get('total_s')} s"]
    parts.append(f"startup {results.get('startup_s')} s")
    for name in ("first", "warm", "empty"):
        if name in flush:
            f = flush[name]
            parts.append(
                f"{name} flush {f['seconds']} s ({f['records']} rec, {len(f['jobs'])} jobs)"
            )
    parts.append(f"scenarios {results.get('scenario_s')}")
    return "; ".join(parts)


def test_executor_records_arrive_once_from_both_executors(cluster):
    """Proxy records from tasks on two executor JVMs arrive once, with partition and stage."""
    res = cluster.scenario("proxy")
    assert res["count"] == 40
    rows = cluster.messages("proxy row ")
    assert sorted(rows) == sorted(f"proxy row {i}" for i in range(40))
    for msg, copies in rows.items():
        assert len(copies) == 1, f"{msg!r} is in the table {len(copies)} times"
        row, i = copies[0], int(msg.split()[-1])
        assert (row["source"], row["partition_id"], row["task_attempt"]) == ("executor", i // 5, 0)
        assert row["stage_id"] in res["stage_ids"] and row["job_group"] == "cluster-proxy"
    executors = {r[0]["context"]["executor_id"] for r in rows.values()}
    assert len(executors) == 2, f"records came from executors {executors}"


def test_a_crashed_python_worker_is_retried_and_its_records_arrive_once(cluster):
    """A worker killed by os._exit mid-task: Spark retries, records arrive once, ERROR logged."""
    res = cluster.scenario("crash")
    assert res["count"] == 12
    (stage,) = res["stage_ids"]
    rows = cluster.messages("crash row ")
    assert sorted(rows) == sorted(f"crash row {i}" for i in range(12))
    for msg, copies in rows.items():
        assert len(copies) == 1, f"{msg!r} is in the table {len(copies)} times"
        row, i = copies[0], int(msg.split()[-1])
        attempt = 1 if i // 3 == 1 else 0  # partition 1 died in attempt 0
        assert (row["partition_id"], row["stage_id"], row["task_attempt"]) == (
            i // 3,
            stage,
            attempt,
        )
    failed = [r for r in cluster.listener("ERROR") if r["stage_id"] == stage]
    assert len(failed) == 1, [r["msg"] for r in cluster.listener("ERROR")]
    assert (failed[0]["partition_id"], failed[0]["task_attempt"]) == (1, 0)
    assert "Python worker exited unexpectedly" in failed[0]["msg"], failed[0]["msg"]


def test_a_killed_executor_is_logged_and_its_task_runs_again_once(cluster):
    """An executor JVM SIGKILLed mid-job: WARNING record, job finishes, no record twice."""
    res = cluster.scenario("kill")
    assert res["job_error"] is None and res["job_result"] == [0, 1, 2, 3]
    victim, other = res["victim"]["executor_id"], res["other"]["executor_id"]
    assert victim != other, "both held tasks ran on one executor"
    removed = [r for r in cluster.listener("WARNING") if r["msg"].startswith("Spark executor")]
    assert [r["context"]["executor_id"] for r in removed] == [victim], [r["msg"] for r in removed]
    (stage,) = res["stage_ids"]
    rows = cluster.messages("kill ")
    assert sorted(rows) == ["kill end p0", "kill end p1", "kill start p0", "kill start p1"]
    for msg, copies in rows.items():
        assert len(copies) == 1, f"{msg!r} is in the table {len(copies)} times"
        part = int(msg[-1])
        attempt = 1 if part == 0 else 0  # partition 0 ran on the killed executor
        assert (copies[0]["partition_id"], copies[0]["stage_id"]) == (part, stage)
        assert copies[0]["task_attempt"] == attempt, msg
    # local-cluster mode launches a replacement executor, as a cluster manager would
    assert len(res["executors_after"]) == 2 and victim not in res["executors_after"]


def test_listener_flushes_while_a_job_runs_without_failing_it(cluster):
    """A flush requested mid-job ships the spool while the job keeps running and succeeds."""
    res = cluster.scenario("flush_during_job")
    assert res["job_running_after_flush"], "the held job ended before the flush did"
    assert res["job_error"] is None and res["job_result"] == [0, 1, 2]
    assert res["flushed_records"] >= 1
    assert cluster.results["flush_errors"] == []
    for msg in ("driver record while a job runs", "held task starts", "held task ends"):
        assert len(cluster.messages(msg)[msg]) == 1, msg


def test_every_spool_record_is_in_the_table_exactly_once(cluster):
    """Across all scenarios and flushes, the table holds each spool record once."""
    cluster.scenario("kill")
    ids = collections.Counter(r["record_id"] for r in cluster.rows)
    dupes = {k: n for k, n in ids.items() if n > 1}
    assert not dupes, f"{len(dupes)} record ids are in the table more than once"
    spool_ids = {r["record_id"] for r in cluster.spool}
    assert set(ids) == spool_ids, (
        f"missing from the table: {len(spool_ids - set(ids))}, "
        f"not in the spool: {len(set(ids) - spool_ids)}"
    )


def test_flush_jobs_run_in_laketraces_group_and_an_empty_flush_starts_none(cluster):
    """A flush's Spark jobs carry the laketrace-flush group; an empty flush starts no job."""
    res = cluster.scenario("flush")
    assert (res["first"]["records"], res["warm"]["records"]) == (1, 1)
    jobs = res["first"]["jobs"] + res["warm"]["jobs"]
    assert jobs and {j["group"] for j in jobs} == {FLUSH_JOB_GROUP}
    for empty in (res["empty"], cluster.results["empty_flush"]):
        assert empty["records"] == 0 and empty["jobs"] == [], empty
    # so the listener logged only the scenarios' own jobs
    logged = [r for r in cluster.listener("INFO") if r["msg"].startswith("Spark job")]
    assert logged and all(r["job_group"].startswith("cluster-") for r in logged), [
        (r["msg"], r["job_group"]) for r in logged
    ]
