"""Scenarios on a real Spark Connect session, run in a child process by ``test_connect.py``.

``python connect_scenarios.py WORKDIR URL`` connects to the Connect server at ``URL``
(``connect_server.py``, another process) with ``SparkSession.builder.remote(URL)``, as a
Databricks serverless notebook's ``spark`` is connected: no SparkContext, no py4j, no JVM
in this process. One session runs every scenario:

1. ``once``: a flush to a catalog table, then another: every record once, a bad line
   quarantined once (in the table ``quarantine=`` names), the second flush ships nothing;
2. ``crash``: a child flush dies at a fault point (``after_commit``: the commit is in the
   table, not in the ledger; ``between_commits``: the quarantine commit is in, the main
   one is not), then this process flushes again;
3. ``idempotent``: the target holds a spool's records through a commit without
   LakeTrace metadata and the ledger is lost: the next flush ships only new record_ids;
4. ``timer``: ``spark_listener.install`` on the Connect session (one WARNING, timer mode);
   a timer flush ships records while a Connect job is held running;
5. ``exit``: a child installs the listener with a long interval, logs and exits: the exit
   flush ships its records;
6. ``quickstart``: the code cells of ``notebooks/fabric_notebook.ipynb``, unchanged, with
   ``spark`` bound to this session (as the platform binds it).

``python connect_scenarios.py child MODE URL LOG_DIR TARGET`` is the child of 2 and 5. The
results go to ``WORKDIR/results.json``; a failed scenario records its traceback and the
next one still runs. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOK = os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "notebooks", "fabric_notebook.ipynb"
)
WAIT = 120.0  # seconds; generous: the CI machine has 2 shared cores


def wait_until(predicate: Any, what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` until true; TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def connect(url: str) -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.builder.remote(url).getOrCreate()


def flush_info(result: Any) -> dict[str, Any]:
    return {
        "writer": result.writer,
        "records": result.records,
        "quarantined": result.quarantined,
        "batches": result.batches,
        "skipped_batches": result.skipped_batches,
        "rebuilt": list(result.rebuilt),
        "idempotent_batches": result.idempotent_batches,
        "seconds": round(result.seconds, 2),
    }


def msgs(spark: Any, source: str, prefix: str) -> list[str]:
    """The ``msg`` of every row of ``source`` (a table name or a path) starting with ``prefix``."""
    df = (
        spark.table(source)
        if not source.startswith("/")
        else spark.read.format("delta").load(source)
    )
    return [r[0] for r in df.filter(df.msg.startswith(prefix)).select("msg").collect()]


def scenario_once(spark: Any, work: str) -> dict[str, Any]:
    import laketrace

    log_dir = os.path.join(work, "once-spool")
    log = laketrace.get_logger("connect.once", {"log_dir": log_dir})
    for i in range(20):
        log.info("once {}", i, i=i)
    log.close()
    with open(os.path.join(log_dir, "notes.txt"), "w") as fh:  # a foreign file: quarantined
        fh.write("not a record\n")
    from laketrace.flush import faults

    tags_seen: list[list[str]] = []  # the session's tags as the flush passes its fault points
    faults.fault_hook = lambda point: tags_seen.append(sorted(spark.getTags()))
    try:
        first = laketrace.flush_to_delta(
            spark, log_dir=log_dir, table="default.app_logs", quarantine="default.app_rejects"
        )
    finally:
        faults.fault_hook = None
    second = laketrace.flush_to_delta(
        spark, log_dir=log_dir, table="default.app_logs", quarantine="default.app_rejects"
    )
    tags_after = sorted(spark.getTags())
    quarantine = spark.table("default.app_rejects").select("source_file").collect()
    return {
        "first": flush_info(first),
        "second": flush_info(second),
        "msgs": msgs(spark, "default.app_logs", "once "),
        "quarantine": [r[0] for r in quarantine],
        "default_quarantine": spark.catalog.tableExists("default.app_logs_quarantine"),
        "tags_seen": tags_seen,
        "tags_after": tags_after,
    }


def scenario_idempotent(spark: Any, work: str) -> dict[str, Any]:
    """Records already in the table through a commit without LakeTrace metadata (another
    writer): a flush from a spool the table's history cannot vouch for ships idempotently."""
    import laketrace

    log_dir = os.path.join(work, "idem-spool")
    first, target = os.path.join(work, "idem-first"), os.path.join(work, "idem-table")
    log = laketrace.get_logger("connect.idem", {"log_dir": log_dir})
    for i in range(6):
        log.info("idem {}", i)
    log.close()
    laketrace.flush_to_delta(log_dir=log_dir, path=first)  # delta-rs: no round trips
    # the same rows land in the target through a plain Spark append (no userMetadata)
    spark.read.format("delta").load(first).write.format("delta").partitionBy("date").save(target)
    os.remove(os.path.join(log_dir, "_laketrace", "manifest.jsonl"))  # a lost ledger
    for i in range(6, 9):
        log.info("idem {}", i)
    log.close()
    result = laketrace.flush_to_delta(spark, log_dir=log_dir, path=target)
    return {"result": flush_info(result), "msgs": msgs(spark, target, "idem ")}


def run_child(mode: str, url: str, log_dir: str, target: str, fault: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "LAKETRACE_FAULT"}
    if fault:
        env["LAKETRACE_FAULT"] = fault
    out = subprocess.run(
        [sys.executable, __file__, "child", mode, url, log_dir, target],
        env=env,
        capture_output=True,
        text=True,
        timeout=2 * WAIT,
    )
    if out.returncode not in (0, 77):
        raise RuntimeError(f"child {mode} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.returncode


def scenario_crash(spark: Any, work: str, url: str) -> dict[str, Any]:
    import laketrace

    out: dict[str, Any] = {}
    for point in ("after_commit", "between_commits"):
        log_dir = os.path.join(work, f"crash-{point}-spool")
        target = os.path.join(work, f"crash-{point}-table")
        log = laketrace.get_logger(f"connect.crash.{point}", {"log_dir": log_dir})
        for i in range(10):
            log.info("crash {} {}", point, i)
        log.close()
        with open(os.path.join(log_dir, "notes.txt"), "w") as fh:
            fh.write("not a record\n")
        rc = run_child("flush", url, log_dir, target, point)
        rerun = laketrace.flush_to_delta(spark, log_dir=log_dir, path=target)
        again = laketrace.flush_to_delta(spark, log_dir=log_dir, path=target)
        q = spark.read.format("delta").load(target + "_quarantine").select("source_file")
        out[point] = {
            "rc": rc,
            "rerun": flush_info(rerun),
            "again": flush_info(again),
            "msgs": msgs(spark, target, f"crash {point} "),
            "quarantine": [r[0] for r in q.collect()],
        }
    return out


def hold_rows(release: str, started: str) -> Any:
    """A mapInPandas function that announces itself and waits (bounded) for ``release``."""

    def hold(batches: Any) -> Any:
        import os as _os
        import time as _time

        open(started, "a").close()
        deadline = _time.monotonic() + 2 * WAIT
        while not _os.path.exists(release) and _time.monotonic() < deadline:
            _time.sleep(0.05)
        yield from batches

    return hold


def shipped_msgs(spark: Any, target: str) -> list[str]:
    """The timer scenario's records in its table so far (none before the table exists)."""
    try:
        return msgs(spark, target, "timer during job ")
    except Exception as exc:
        # the first flush may be creating it: a directory without a commit yet
        not_yet = ("PATH_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE", "DELTA_TABLE_NOT_FOUND")
        if any(code in str(exc) for code in not_yet):
            return []
        raise


def scenario_timer(spark: Any, work: str) -> dict[str, Any]:
    import laketrace
    import spark_listener
    from laketrace.spool.names import list_spool
    from laketrace.spool.read import read_records

    log_dir = os.path.join(work, "timer-spool")
    target = os.path.join(work, "timer-table")
    log = laketrace.get_logger("connect.timer", {"log_dir": log_dir, "path": target})
    handle = spark_listener.install(spark, log, flush_interval=1)
    again = spark_listener.install(spark, log, flush_interval=1)
    release, started = os.path.join(work, "timer-release"), os.path.join(work, "timer-started")
    job: dict[str, Any] = {}

    def run_job() -> None:
        try:
            df = spark.range(0, 4, 1, 1)  # one task: the flush's jobs get the other core
            rows = df.mapInPandas(hold_rows(release, started), df.schema).collect()
            job["result"] = sorted(r[0] for r in rows)
        except Exception as exc:
            job["error"] = repr(exc)

    thread = threading.Thread(target=run_job)
    thread.start()
    try:
        wait_until(lambda: os.path.exists(started), "the held job to start")
        del handle.results[:]
        for i in range(5):
            log.info("timer during job {}", i)
        wait_until(lambda: len(shipped_msgs(spark, target)) == 5, "a timer flush during the job")
        alive_after_flush = thread.is_alive()
        shipped = shipped_msgs(spark, target)
    finally:
        open(release, "w").close()
        thread.join(2 * WAIT)
    handle.uninstall()
    spool = [r for p, _ in list_spool(log_dir) for r in read_records(p)]
    return {
        "same_handle": again is handle,
        "mode": handle.mode,
        "warnings": [r["msg"] for r in spool if r.get("level") == "WARNING"],
        "alive_after_flush": alive_after_flush,
        "shipped_during_job": shipped,
        "writers": sorted({r.writer for r in handle.results}),
        "errors": list(handle.errors),
        "job": job,
    }


def scenario_exit(spark: Any, work: str, url: str) -> dict[str, Any]:
    log_dir = os.path.join(work, "exit-spool")
    target = os.path.join(work, "exit-table")
    rc = run_child("exit", url, log_dir, target, None)
    return {"rc": rc, "msgs": msgs(spark, target, "exit ")}


def scenario_quickstart(spark: Any, work: str) -> dict[str, Any]:
    """Run the notebook's code cells as they are, ``spark`` bound as the platform binds it."""
    nb_dir = os.path.join(work, "quickstart")
    os.makedirs(nb_dir, exist_ok=True)
    with open(NOTEBOOK) as fh:
        cells = [c for c in json.load(fh)["cells"] if c["cell_type"] == "code"]
    namespace: dict[str, Any] = {"spark": spark, "__name__": "__main__"}
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(nb_dir)
    try:
        with contextlib.redirect_stdout(printed):
            for cell in cells:
                exec(compile("".join(cell["source"]), f"<cell {cell['id']}>", "exec"), namespace)
    finally:
        os.chdir(cwd)
    handle = namespace["handle"]
    handle.uninstall()
    table = os.path.join(nb_dir, "lakehouse", "laketrace_logs")
    columns = ("source", "level", "msg", "app_id", "job_id", "job_group")
    rows = spark.read.format("delta").load(table).select(*columns).collect()
    return {
        "rows": [r.asDict() for r in rows],
        "writer": namespace["result"].writer,
        "proxy_mode": namespace["proxy"].mode,
        "handle_mode": handle.mode,
        "printed": printed.getvalue()[-4000:],
    }


def child(mode: str, url: str, log_dir: str, target: str) -> None:
    """A second client process: ``flush`` (dies at LAKETRACE_FAULT) or ``exit``."""
    import laketrace

    spark = connect(url)
    if mode == "flush":
        laketrace.flush_to_delta(spark, log_dir=log_dir, path=target)
        return
    import spark_listener

    log = laketrace.get_logger("connect.exit", {"log_dir": log_dir, "path": target})
    spark_listener.install(spark, log, flush_interval="1 h")
    for i in range(7):
        log.info("exit {}", i)
    # no flush, no uninstall: the interpreter's exit flushes


def main(work: str, url: str) -> None:
    results: dict[str, Any] = {"errors": {}, "timings": {}}
    t0 = time.monotonic()
    try:
        spark = connect(url)
        spark.range(1).collect()
        results["spark_version"] = spark.version
        results["session_module"] = type(spark).__module__
    except Exception:
        results["errors"]["setup"] = traceback.format_exc()
        _write(work, results)
        return
    results["timings"]["connect"] = round(time.monotonic() - t0, 2)
    scenarios = {
        "once": lambda: scenario_once(spark, work),
        "crash": lambda: scenario_crash(spark, work, url),
        "idempotent": lambda: scenario_idempotent(spark, work),
        "timer": lambda: scenario_timer(spark, work),
        "exit": lambda: scenario_exit(spark, work, url),
        "quickstart": lambda: scenario_quickstart(spark, work),
    }
    for name, run in scenarios.items():
        t = time.monotonic()
        try:
            results[name] = run()
        except Exception:
            results["errors"][name] = traceback.format_exc()
        results["timings"][name] = round(time.monotonic() - t, 2)
        _write(work, results)
    results["timings"]["total"] = round(time.monotonic() - t0, 2)
    _write(work, results)


def _write(work: str, results: dict[str, Any]) -> None:
    tmp = os.path.join(work, "results.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(results, fh, indent=1, default=str)
    os.replace(tmp, os.path.join(work, "results.json"))


if __name__ == "__main__":
    if sys.argv[1] == "child":
        child(*sys.argv[2:6])
    else:
        main(sys.argv[1], sys.argv[2])
