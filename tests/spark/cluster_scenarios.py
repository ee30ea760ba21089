"""Scenarios on a multi-JVM Spark cluster, run in a child process by ``test_cluster.py``.

``python cluster_scenarios.py WORKDIR`` starts ``local-cluster[2,1,1024]``: a master and two
workers inside the driver JVM, and two executor JVMs (``CoarseGrainedExecutorBackend``),
each with its own Python workers. One SparkContext per process, so the suite's
``local[2]`` session cannot be reused. Startup is the expensive part, so one session runs
every scenario, the one that changes the cluster (the executor kill) last:

1. ``flush``: a first flush (one record, cold executors), a warm one and an empty one,
   each with the Spark jobs it started;
2. ``proxy``: ``for_executors()`` records from tasks on both executors;
3. ``crash``: a Python worker that dies (``os._exit``) in the first attempt of partition 1;
4. ``flush_during_job``: a listener flush requested while a job runs;
5. ``kill``: the executor JVM running partition 0 of a held job is SIGKILLed.

The LakeTrace listener is installed throughout with a 2 s flush interval, so automatic
flushes also run between and during the scenarios. The script writes what it saw to
``WORKDIR/results.json`` (the test asserts on it and on the Delta table in
``WORKDIR/table``). Every wait has a deadline; a failed scenario records its traceback and
the next one still runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

MASTER = "local-cluster[2,1,1024]"
EXECUTOR_MAIN = "org.apache.spark.executor.CoarseGrainedExecutorBackend"
# Three short-lived JVMs on 2 shared cores spend most of a run in the C2 JIT compiler:
# with C1 only the whole run took 75-85 s instead of 170-185 s (first flush 26-31 s
# instead of 68-86 s), at the same machine load
JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
WAIT = 120.0  # seconds; generous: the CI machine has 2 shared cores


def wait_until(predicate: Any, what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` until true; TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def executor_of_this_process() -> tuple[str | None, int | None]:
    """(executor id, pid) of the executor JVM this Python worker descends from."""
    import psutil

    proc: Any = psutil.Process()
    while proc is not None:
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            return None, None
        if EXECUTOR_MAIN in cmd and "--executor-id" in cmd:
            return cmd[cmd.index("--executor-id") + 1], proc.pid
        proc = proc.parent()
    return None, None


def hold(marker: str, release: str, info: dict) -> None:
    """In a task: announce ``info`` in ``marker``, then wait (bounded) for ``release``."""
    with open(marker + ".tmp", "w") as fh:
        json.dump(info, fh)
    os.replace(marker + ".tmp", marker)
    deadline = time.monotonic() + 2 * WAIT  # outlasts every wait of the driver
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)


class Cluster:
    """The session, the logger and listener, and helpers to observe Spark's jobs."""

    def __init__(self, workdir: str) -> None:
        import laketrace
        import spark_listener
        from laketrace.cli.spark_session import local_spark

        self.workdir = workdir
        self.table = os.path.join(workdir, "table")
        self.spool = os.path.join(workdir, "spool")
        self.markers = os.path.join(workdir, "markers")
        os.makedirs(self.markers, exist_ok=True)
        t0 = time.monotonic()
        conf = {
            "spark.sql.warehouse.dir": os.path.join(workdir, "warehouse"),
            "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC {JVM_OPTS}",
            "spark.executor.extraJavaOptions": JVM_OPTS,
        }
        self.spark = local_spark("laketrace-cluster-tests", master=MASTER, conf=conf)
        self.sc = self.spark.sparkContext
        self.sc.setLogLevel("ERROR")
        self.startup_s = time.monotonic() - t0
        wait_until(lambda: len(self.executor_ids()) == 2, "two executors to register")
        self.ready_s = time.monotonic() - t0
        self.log = laketrace.get_logger(
            "cluster", {"log_dir": self.spool, "stdout": False, "path": self.table}
        )
        self.handle = spark_listener.install(self.spark, self.log, flush_interval=2.0)

    def executor_ids(self) -> list[str]:
        """Ids of the registered executors (the driver excluded)."""
        seq = self.sc._jsc.sc().getExecutorIds()
        return sorted(str(seq.apply(i)) for i in range(seq.size()))

    def drain_bus(self) -> None:
        """Wait until every posted listener event has been delivered (status store too)."""
        self.sc._jsc.sc().listenerBus().waitUntilEmpty(int(WAIT * 1000))

    def jobs(self) -> dict[int, dict]:
        """Every job Spark's status store knows: id -> name, group, seconds, status."""
        self.drain_bus()
        out = {}
        it = self.sc._jsc.sc().statusStore().jobsList(None).iterator()
        while it.hasNext():
            j = it.next()
            sub, done = j.submissionTime(), j.completionTime()
            secs = (
                (done.get().getTime() - sub.get().getTime()) / 1000
                if sub.isDefined() and done.isDefined()
                else None
            )
            group = j.jobGroup()
            out[int(j.jobId())] = {
                "name": str(j.name()),
                "group": str(group.get()) if group.isDefined() else None,
                "seconds": secs,
                "status": str(j.status()),
            }
        return out

    def stage_ids(self, group: str) -> list[int]:
        """Stage ids of the jobs run in job group ``group``."""
        tracker = self.sc.statusTracker()
        stages: set[int] = set()
        for job_id in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job_id)
            if info is not None:
                stages.update(info.stageIds)
        return sorted(stages)

    def marker(self, name: str) -> str:
        return os.path.join(self.markers, name)

    def read_marker(self, name: str) -> dict:
        with open(self.marker(name)) as fh:
            return json.load(fh)  # type: ignore[no-any-return]

    def timed_flush(self) -> dict:
        """One listener flush now: seconds, records and the Spark jobs it started."""
        before = self.jobs()
        t = time.monotonic()
        res = self.handle.flusher.flush_now()
        seconds = time.monotonic() - t
        new = {k: v for k, v in self.jobs().items() if k not in before}
        return {
            "seconds": round(seconds, 2),
            "records": res.records if res is not None else None,
            "jobs": [new[k] for k in sorted(new)],
        }


def run_in_thread(group: str, action: Any) -> tuple[threading.Thread, dict]:
    """Run ``action()`` in job group ``group`` on a thread; its result or error lands in a dict."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["result"] = action()
        except Exception as exc:  # reported by the scenario, asserted on by the test
            out["error"] = f"{type(exc).__name__}: {str(exc)[:2000]}"

    def with_group() -> None:
        from pyspark import SparkContext

        SparkContext.getOrCreate().setJobGroup(group, group)  # local properties are per thread
        target()

    t = threading.Thread(target=with_group, name=group, daemon=True)
    t.start()
    return t, out


def scenario_flush(c: Cluster) -> dict:
    """First (cold), warm and empty flushes, with the jobs each started."""
    c.log.info("first record")
    first = c.timed_flush()
    c.log.info("second record")
    warm = c.timed_flush()
    empty = c.timed_flush()
    return {"first": first, "warm": warm, "empty": empty}


def scenario_proxy(c: Cluster) -> dict:
    """8 partitions of 5 rows; each row logs once through the proxy, on both executors."""
    proxy = c.log.for_executors(level="INFO")
    seen = c.marker("proxy-executor-")

    def work(rows: Any) -> Any:
        executor_id, _ = executor_of_this_process()
        open(seen + str(executor_id), "w").close()
        # the first tasks wait (bounded) until both executors have one: two executors log
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if len([n for n in os.listdir(os.path.dirname(seen)) if n.startswith("proxy-")]) > 1:
                break
            time.sleep(0.05)
        for row in rows:
            proxy.info("proxy row {}", row, executor_id=executor_id)
            yield row

    c.sc.setJobGroup("cluster-proxy", "proxy records from two executors")
    n = c.sc.parallelize(range(40), 8).mapPartitions(work).count()
    return {"count": n, "stage_ids": c.stage_ids("cluster-proxy")}


def scenario_crash(c: Cluster) -> dict:
    """Partition 1's Python worker dies in its first attempt; Spark retries the task."""
    proxy = c.log.for_executors(level="INFO")

    def crashy(rows: Any) -> Any:
        from pyspark import TaskContext

        tc = TaskContext.get()
        rows = list(rows)
        for row in rows:
            proxy.info("crash row {}", row)
        if tc.partitionId() == 1 and tc.attemptNumber() == 0:
            os._exit(3)  # the worker dies mid-task, its buffered records with it
        yield from rows

    c.sc.setJobGroup("cluster-crash", "a Python worker dies mid-task")
    n = c.sc.parallelize(range(12), 4).mapPartitions(crashy).count()
    return {"count": n, "stage_ids": c.stage_ids("cluster-crash")}


def scenario_flush_during_job(c: Cluster) -> dict:
    """A listener flush requested while a one-task job is held running."""
    proxy = c.log.for_executors(level="INFO")
    started, release = c.marker("held-started"), c.marker("held-release")

    def held(rows: Any) -> Any:
        proxy.info("held task starts")
        hold(started, release, {})
        proxy.info("held task ends")
        yield from rows

    thread, out = run_in_thread(
        "cluster-flush", lambda: c.sc.parallelize(range(3), 1).mapPartitions(held).collect()
    )
    try:
        wait_until(lambda: os.path.exists(started), "the held task to start")
        c.log.info("driver record while a job runs")
        flushes = len(c.handle.results)
        c.handle.flusher.request(force=True)
        wait_until(lambda: len(c.handle.results) > flushes, "the requested flush")
        flush = c.handle.results[flushes]
        active = set(c.sc.statusTracker().getActiveJobsIds())
        held_jobs = set(c.sc.statusTracker().getJobIdsForGroup("cluster-flush"))
    finally:
        open(release, "w").close()
        thread.join(WAIT)
    return {
        "flushed_records": flush.records,
        "job_running_after_flush": bool(active & held_jobs),
        "job_result": out.get("result"),
        "job_error": out.get("error"),
        "stage_ids": c.stage_ids("cluster-flush"),
    }


def scenario_kill(c: Cluster) -> dict:
    """SIGKILL the executor JVM running partition 0 of a held 2-task job."""
    proxy = c.log.for_executors(level="INFO")
    release = c.marker("kill-release")
    prefix = c.marker("kill-started")
    app_id = c.sc.applicationId

    def held(rows: Any) -> Any:
        from pyspark import TaskContext

        tc = TaskContext.get()
        part, attempt = tc.partitionId(), tc.attemptNumber()
        executor_id, executor_pid = executor_of_this_process()
        proxy.info("kill start p{}", part)
        info = {"executor_id": executor_id, "executor_pid": executor_pid, "worker": os.getpid()}
        hold(f"{prefix}-{part}-{attempt}", release, info)
        proxy.info("kill end p{}", part)
        yield from rows

    before = c.executor_ids()
    thread, out = run_in_thread(
        "cluster-kill", lambda: c.sc.parallelize(range(4), 2).mapPartitions(held).collect()
    )
    try:
        both = (f"{prefix}-0-0", f"{prefix}-1-0")
        wait_until(lambda: all(os.path.exists(m) for m in both), "both held tasks to start")
        victim, other = (c.read_marker(os.path.basename(m)) for m in both)
        _kill_executor(victim["executor_pid"], app_id)
    finally:
        open(release, "w").close()
        thread.join(WAIT)
    wait_until(lambda: _executor_removed_logged(c), "the executor-removed record")
    wait_until(
        lambda: len(c.executor_ids()) == 2 and c.executor_ids() != before,
        "a replacement executor",
    )
    return {
        "victim": victim,
        "other": other,
        "executors_before": before,
        "executors_after": c.executor_ids(),
        "job_result": out.get("result"),
        "job_error": out.get("error") or (None if not thread.is_alive() else "still running"),
        "stage_ids": c.stage_ids("cluster-kill"),
    }


def _kill_executor(pid: int, app_id: str) -> None:
    import psutil

    cmd = psutil.Process(pid).cmdline()
    if EXECUTOR_MAIN not in cmd or app_id not in cmd:
        raise RuntimeError(f"pid {pid} is not an executor of {app_id}: {cmd[-12:]}")
    os.kill(pid, signal.SIGKILL)


def _executor_removed_logged(c: Cluster) -> bool:
    from laketrace.spool.names import list_spool
    from laketrace.spool.read import read_records

    c.drain_bus()
    try:
        for path, _ in list_spool(c.spool):
            for rec in read_records(path):
                if rec.get("source") == "listener" and rec["msg"].startswith("Spark executor"):
                    return True
    except OSError:  # a file sealed (renamed) by a concurrent flush: look again
        pass
    return False


SCENARIOS = (
    ("flush", scenario_flush),
    ("proxy", scenario_proxy),
    ("crash", scenario_crash),
    ("flush_during_job", scenario_flush_during_job),
    ("kill", scenario_kill),
)


def main(workdir: str) -> None:
    import pyspark

    t0 = time.monotonic()
    results: dict[str, Any] = {"spark_version": pyspark.__version__, "errors": {}}
    path = os.path.join(workdir, "results.json")
    c = None
    try:
        c = Cluster(workdir)
        results.update(
            app_id=c.sc.applicationId,
            startup_s=round(c.startup_s, 1),
            ready_s=round(c.ready_s, 1),
            executors=c.executor_ids(),
            listener=c.handle.kind,
        )
        for name, scenario in SCENARIOS:
            t = time.monotonic()
            try:
                results[name] = scenario(c)
            except Exception:
                results["errors"][name] = traceback.format_exc()[-4000:]
            results.setdefault("scenario_s", {})[name] = round(time.monotonic() - t, 1)
            c.sc.setLocalProperty("spark.jobGroup.id", None)
            c.sc.setLocalProperty("spark.job.description", None)
        c.drain_bus()
        results["final_flush"] = c.timed_flush()
        results["empty_flush"] = c.timed_flush()
        results["auto_flushes"] = [r.records for r in c.handle.results]
        results["flush_errors"] = list(c.handle.errors)
    except Exception:
        results["errors"]["setup"] = traceback.format_exc()[-4000:]
    finally:
        results["total_s"] = round(time.monotonic() - t0, 1)
        with open(path + ".tmp", "w") as fh:
            json.dump(results, fh, indent=1, default=str)
        os.replace(path + ".tmp", path)
        if c is not None:
            c.handle.uninstall()
            c.spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
