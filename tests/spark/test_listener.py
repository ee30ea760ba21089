"""The Spark listener on real local Spark: job context, failure records, automatic flushes."""

from __future__ import annotations

import pytest

import spark_listener
from laketrace.runtime import FLUSH_JOB_GROUP as FLUSH_GROUP

from ..conftest import spool_records


def _wait_for(predicate, handle, timeout=30.0):
    """Wait (event-driven, bounded) until the listener bus has delivered what we need."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def installed(spark, make_logger, tmp_path):
    log = make_logger(level="DEBUG")
    handle = spark_listener.install(spark, log, path=str(tmp_path / "logs"), flush_interval="1 h")
    yield log, handle
    handle.uninstall()


def test_install_is_idempotent(spark, installed):
    """A re-run install returns the same handle (no duplicate listener)."""
    log, handle = installed
    assert spark_listener.install(spark, log, flush_interval="1 h") is handle
    assert handle.mode == "listener"
    assert handle.kind == "jvm"  # the shipped jar loaded; py4j is only the fallback


def test_records_during_a_job_carry_job_id_and_group(spark, installed, log_dir):
    """Driver records logged while a job runs carry job_id and job_group."""
    log, handle = installed
    sc = spark.sparkContext
    release = __import__("threading").Event()
    marker = str(log_dir) + ".logged"

    def held(rows):
        import os
        import time

        deadline = time.monotonic() + 60
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.02)  # the job stays running until the driver has logged
        yield from rows

    def run_job():
        sc.setJobGroup("nightly-etl", "load orders")  # local properties are per thread
        sc.parallelize(range(4), 2).mapPartitions(held).count()
        release.set()

    import threading

    t = threading.Thread(target=run_job)
    t.start()
    assert _wait_for(
        lambda: any(j.get("group") == "nightly-etl" for j in handle.handler.jobs.values()), handle
    )
    log.info("while the job runs")
    open(marker, "w").close()
    t.join()
    log.close()
    recs = [r for r in spool_records(log_dir) if r["msg"] == "while the job runs"]
    assert recs and recs[0]["job_id"] is not None and recs[0]["job_group"] == "nightly-etl"
    assert recs[0]["context"].get("spark.job_description") == "load orders"
    assert release.is_set()


def test_failing_udf_produces_error_records_with_traceback(spark, installed, log_dir):
    """A failing Python UDF job produces listener ERROR records with the Python traceback."""
    from pyspark.sql import functions as F

    log, handle = installed

    @F.udf("long")
    def explode(x):
        raise ValueError(f"bad row {x}")

    with pytest.raises(Exception):
        spark.range(0, 2, 1, 1).select(explode("id")).collect()
    assert _wait_for(
        lambda: any(
            r["level"] == "ERROR" and "job" in r["msg"] for r in _listener_records(log, log_dir)
        ),
        handle,
    )
    recs = _listener_records(log, log_dir)
    errors = [r for r in recs if r["level"] == "ERROR"]
    kinds = {r["msg"].split()[1] for r in errors}  # "job", "stage", "task"
    assert {"job", "stage", "task"} <= kinds
    task_err = next(r for r in errors if r["msg"].startswith("Spark task"))
    # the message names the Python error, not Spark's wrapper
    assert task_err["msg"].endswith("failed: ValueError: bad row 0")
    assert all(r["msg"].endswith("ValueError: bad row 0") for r in errors if "job" in r["msg"])
    assert task_err["exception"]["class"] == "ValueError"
    assert task_err["traceback"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad row" in task_err["context"]["reason"]
    assert "Traceback" in task_err["context"]["reason"]
    assert all(r["source"] == "listener" for r in recs)


def _listener_records(log, log_dir):
    log.close()
    return [r for r in spool_records(log_dir) if r["source"] == "listener"]


def test_job_end_triggers_a_background_flush(spark, installed, tmp_path):
    """After a job ends a flush runs on the flusher thread and lands records in Delta."""
    log, handle = installed
    handle.flush_interval = 0.0  # every job end is due
    log.info("ship me")
    spark.range(10).count()
    assert _wait_for(lambda: bool(handle.results), handle)
    first = handle.results[0]
    assert first.records >= 1 and first.writer == "spark"
    table = spark.read.format("delta").load(str(tmp_path / "logs"))
    assert table.filter("msg = 'ship me'").count() == 1


def test_flush_jobs_do_not_trigger_flushes(spark, installed):
    """Jobs started by the flush run in LakeTrace's job group and never re-trigger it."""
    log, handle = installed
    handle.flush_interval = 0.0
    log.info("x")
    handle.flusher.flush_now()
    before = len(handle.results)
    assert _wait_for(lambda: not handle.flusher.pending, handle, timeout=5)
    assert len(handle.results) == before
    groups = {j.get("group") for j in handle.handler.jobs.values()}
    assert FLUSH_GROUP not in groups


def test_connect_fallback_warns_once_and_keeps_logging(spark, make_logger, log_dir, monkeypatch):
    """With is_remote() True, install warns once, uses the timer mode, logging continues."""
    import pyspark.sql.utils

    monkeypatch.setattr(pyspark.sql.utils, "is_remote", lambda: True)
    log = make_logger()
    handle = spark_listener.install(spark, log, path=str(log_dir) + "_t", flush_interval="1 h")
    try:
        assert handle.mode == "timer" and handle.listener is None
        log.info("still logging")
        log.close()
        recs = spool_records(log_dir)
        warnings = [r for r in recs if r["level"] == "WARNING"]
        assert len(warnings) == 1 and "Spark Connect" in warnings[0]["msg"]
        assert any(r["msg"] == "still logging" for r in recs)
    finally:
        handle.uninstall()


def test_bad_install_options(spark, make_logger):
    """Bad flush_interval / flush_bytes get teaching errors."""
    log = make_logger()
    with pytest.raises(ValueError, match="flush_interval"):
        spark_listener.install(spark, log, flush_interval="sometimes")
    with pytest.raises(ValueError, match="flush_bytes"):
        spark_listener.install(spark, log, flush_bytes=0)


def test_py4j_fallback_listener_handles_events(spark, make_logger, log_dir, monkeypatch):
    """If the JVM listener cannot load, the py4j listener still records job events."""
    import spark_listener._spark_logs as jar

    monkeypatch.setattr(jar, "JAR", "/nonexistent/laketrace-listener.jar")
    log = make_logger(level="DEBUG")
    handle = spark_listener.install(spark, log, path=str(log_dir) + "_t", flush_interval="1 h")
    try:
        assert handle.kind.startswith("py4j")
        ended = handle.handler.jobs_ended
        spark.range(5).count()
        assert _wait_for(lambda: handle.handler.jobs_ended > ended, handle)
        log.close()
        msgs = [r["msg"] for r in spool_records(log_dir) if r["source"] == "listener"]
        assert any("succeeded" in m for m in msgs)
        assert handle.listener.onSomeFutureSparkEvent(object()) is None  # unknown: no-op
    finally:
        handle.uninstall()


def _bus_queues(spark):
    """Names of the listener-bus queues running now (each has its own dispatch thread)."""
    names = spark.sparkContext._jsc.sc().listenerBus().activeQueues()  # a Scala Set
    return set(str(names.mkString("\n")).split("\n"))


def test_jvm_listener_rides_an_existing_queue(spark, make_logger, tmp_path):
    """The JVM listener joins the executor-management queue: install adds no bus thread."""
    before = _bus_queues(spark)
    handle = spark_listener.install(spark, make_logger(), path=str(tmp_path / "t"))
    try:
        assert handle.queue == "executorManagement"
        assert handle.streaming is None  # streaming events reach the JVM listener itself
        assert _bus_queues(spark) == before and "executorManagement" in before
    finally:
        handle.uninstall()


def test_streaming_query_events_become_listener_records(spark, installed, log_dir):
    """Query start, per-batch progress (DEBUG) and termination arrive as listener records."""
    log, handle = installed
    before = handle.handler.events
    q = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 10)
        .load()
        .writeStream.format("noop")
        .queryName("lt_rates")
        .trigger(availableNow=True)
        .start()
    )
    assert q.awaitTermination(120)

    def msgs():
        return [r["msg"] for r in log.tail(200, file=__import__("io").StringIO())]

    assert _wait_for(lambda: any("terminated" in m for m in msgs()), handle, timeout=60)
    assert handle.handler.events > before
    recs = [r for r in _listener_records(log, log_dir) if r["msg"].startswith("streaming")]
    by_msg = {r["msg"]: r for r in recs}
    started = by_msg["streaming query lt_rates started"]
    assert started["level"] == "INFO" and started["context"]["query_id"] == str(q.id)
    assert any(r["level"] == "DEBUG" and " batch " in r["msg"] for r in recs)
    assert any(r["msg"] == f"streaming query {q.id} terminated" for r in recs)


def test_py4j_fallback_streaming_listener_records(make_logger, log_dir):
    """The Python StreamingQueryListener of the py4j fallback makes the same records."""
    from types import SimpleNamespace as NS

    from spark_listener._events import EventHandler
    from spark_listener._install import _streaming_listener

    log = make_logger(level="DEBUG")
    listener = _streaming_listener(EventHandler(log.name, lambda: None, lambda: None))
    listener.onQueryStarted(NS(id="q1", runId="r1", name="orders"))
    progress = NS(id="q1", name="orders", batchId=3, numInputRows=50, processedRowsPerSecond=None)
    listener.onQueryProgress(NS(progress=progress))
    listener.onQueryTerminated(NS(id="q1", runId="r1", exception="boom\n  at x"))
    recs = _listener_records(log, log_dir)
    assert [(r["level"], r["msg"]) for r in recs] == [
        ("INFO", "streaming query orders started"),
        ("DEBUG", "streaming query orders batch 3: 50 rows at 0.0 rows/s"),
        ("ERROR", "streaming query q1 terminated with an exception: boom"),
    ]
    assert recs[2]["context"]["reason"] == "boom\n  at x"
