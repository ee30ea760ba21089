"""Spark's own driver log (log4j2) as ``source="spark"`` records: the JVM appender."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spark_listener
from laketrace.errors import ConfigError
from laketrace.runtime import FLUSH_JOB_GROUP
from laketrace.testing import read_delta

from ..conftest import spool_records

APPENDER = "LakeTraceSparkLogs"


@pytest.fixture
def spark_warn(spark: Any) -> Iterator[Any]:
    """Spark's root log level at WARN for the test (the session runs at ERROR)."""
    spark.sparkContext.setLogLevel("WARN")
    yield spark
    spark.sparkContext.setLogLevel("ERROR")


def _jlog(spark: Any, name: str) -> Any:
    """A log4j logger of the driver JVM, called through py4j."""
    return spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger(name)


def _set_level(spark: Any, name: str, level: str) -> None:
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        name, jvm.org.apache.logging.log4j.Level.toLevel(level)
    )


def _attached(spark: Any) -> bool:
    """Whether the root logger of Spark's log4j context has LakeTrace's appender."""
    sc = spark.sparkContext
    ctx = sc._jvm.org.apache.logging.log4j.LogManager.getContext(
        sc._jsc.sc().getClass().getClassLoader(), False
    )
    names = ctx.getConfiguration().getRootLogger().getAppenders().keySet().toArray()
    return any(str(n).startswith(APPENDER) for n in names)


def _spark_records(log_dir: str) -> list[dict[str, Any]]:
    return [r for r in spool_records(log_dir) if r["source"] == "spark"]


def test_failed_task_is_a_spark_record_in_the_same_table_and_run(
    spark_warn, make_logger, log_dir, tmp_path
):
    """A task failure the JVM logs lands in the Delta table next to the Python records, with
    level, logger, message, the Java exception in Spark's structure and the Java trace."""
    spark = spark_warn
    lake = str(tmp_path / "lake")
    log = make_logger(path=lake)
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    try:
        assert handle.spark_logs is not None and _attached(spark)
        log.info("python side")
        with pytest.raises(Exception, match="ZeroDivisionError"):
            spark.sparkContext.parallelize([1], 1).map(lambda x: 1 // 0).collect()
        res = handle.flush()
        assert res is not None
    finally:
        handle.uninstall()
    cols = ["source", "level", "level_no", "logger", "msg", "exception", "traceback", "run_id"]
    rows = read_delta(lake, cols).to_pylist()
    python = [r for r in rows if r["msg"] == "python side"]
    spark_rows = [r for r in rows if r["source"] == "spark"]
    assert len(python) == 1 and spark_rows
    failed = [r for r in spark_rows if r["level"] == "ERROR" and r["exception"]]
    assert failed, [(r["level"], r["logger"], r["msg"]) for r in spark_rows]
    rec = failed[0]
    assert rec["logger"].startswith("org.apache.spark.")
    assert rec["level_no"] == 40 and rec["msg"]
    assert "PythonException" in rec["exception"]["class"]
    frames = rec["exception"]["stacktrace"]
    assert frames and frames[0]["class"] and frames[0]["method"]
    assert "\tat org.apache.spark." in rec["traceback"]
    assert {r["run_id"] for r in spark_rows} == {python[0]["run_id"]}


def test_level_filtering_and_off(spark_warn, make_logger, log_dir):
    """Only events at the chosen level and above are captured; None attaches nothing."""
    spark = spark_warn
    _set_level(spark, "lt.levels", "DEBUG")
    jl = _jlog(spark, "lt.levels")
    log = make_logger()
    handle = spark_listener.install(spark, log, flush_interval="1 h", spark_logs="INFO")
    try:
        jl.debug("debug event")
        jl.info("info event")
        jl.warn("warn event")
    finally:
        handle.uninstall()
    handle = spark_listener.install(spark, log, flush_interval="1 h", spark_logs="error")
    try:
        jl.warn("second warn")
        jl.error("second error")
    finally:
        handle.uninstall()
    handle = spark_listener.install(spark, log, flush_interval="1 h", spark_logs=None)
    try:
        assert handle.spark_logs is None and not _attached(spark)
        jl.error("while off")
    finally:
        handle.uninstall()
    got = [(r["level"], r["msg"], r["logger"]) for r in _spark_records(log_dir)]
    assert got == [
        ("INFO", "info event", "lt.levels"),
        ("WARNING", "warn event", "lt.levels"),
        ("ERROR", "second error", "lt.levels"),
    ]
    with pytest.raises(ConfigError, match="spark_logs"):
        spark_listener.install(spark, log, spark_logs="LOUD")


def test_the_same_warning_10000_times_gives_n_records_and_one_summary(
    spark_warn, make_logger, log_dir, monkeypatch
):
    """A flood of one message is cut to the limit plus one summary with the suppressed count."""
    import spark_listener._spark_logs as sl

    monkeypatch.setattr(sl, "RATE_WINDOW_SECONDS", 3600.0)  # the whole loop in one window
    jl = _jlog(spark_warn, "lt.flood")
    log = make_logger()
    handle = spark_listener.install(spark_warn, log, flush_interval="1 h", spark_logs_limit=50)
    try:
        for i in range(10_000):
            jl.warn(f"executor heartbeat late by {i} ms")
        assert handle.spark_logs is not None
        handle.spark_logs.seal()
        counts = handle.spark_logs.counts()
    finally:
        handle.uninstall()
    recs = [r for r in _spark_records(log_dir) if r["logger"] == "lt.flood"]
    plain = [r for r in recs if "laketrace.suppressed" not in r["context"]]
    summaries = [r for r in recs if "laketrace.suppressed" in r["context"]]
    assert len(plain) == 50 and len(summaries) == 1
    assert summaries[0]["context"]["laketrace.suppressed"] == "9950"
    assert "executor heartbeat late by # ms" in summaries[0]["msg"]
    assert counts["suppressed"] == 9950 and counts["dropped"] == 0


def test_flush_job_group_and_own_classes_are_not_captured(spark_warn, make_logger, log_dir):
    """Events logged under LakeTrace's flush job group, or by io.laketrace loggers, are skipped."""
    spark = spark_warn
    sc = spark.sparkContext
    jl = _jlog(spark, "lt.group")
    log = make_logger()
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    try:
        sc.setLocalProperty("spark.jobGroup.id", FLUSH_JOB_GROUP)
        jl.warn("inside the flush group")
        sc.setLocalProperty("spark.jobGroup.id", "user-group")
        jl.warn("inside a user group")
        sc.setLocalProperty("spark.jobGroup.id", None)
        _jlog(spark, "io.laketrace.Something").warn("our own")
        jl.warn("outside any group")
    finally:
        handle.uninstall()
    got = [(r["msg"], r["job_group"]) for r in _spark_records(log_dir)]
    assert got == [("inside a user group", "user-group"), ("outside any group", None)]


def test_uninstall_detaches_and_seals(spark_warn, make_logger, log_dir):
    """After uninstall() the appender is gone from the root logger and its file is sealed."""
    spark = spark_warn
    jl = _jlog(spark, "lt.detach")
    log = make_logger()
    handle = spark_listener.install(spark, log, flush_interval="1 h")
    jl.warn("while attached")
    handle.uninstall()
    assert not _attached(spark)
    jl.warn("after uninstall")
    from laketrace.spool.names import list_spool

    files = [n for _, n in list_spool(log_dir) if n.logger.endswith("~spark")]
    assert files and all(n.sealed for n in files)
    assert [r["msg"] for r in _spark_records(log_dir)] == ["while attached"]


def test_a_real_flush_at_info_leaves_no_records_while_user_jobs_do(
    spark, make_logger, log_dir, tmp_path
):
    """At INFO, a user job's scheduler and executor events are captured, but nothing of a
    LakeTrace flush's Spark jobs (logged on threads without its job group) is."""
    sc = spark.sparkContext
    sc.setLogLevel("INFO")
    jl = _jlog(spark, "lt.marker")
    log = make_logger(path=str(tmp_path / "lake"))
    handle = spark_listener.install(spark, log, flush_interval="1 h", spark_logs="INFO")
    try:
        log.info("something to flush")
        spark.range(10).count()
        jl.info("before flush")
        assert handle.flush() is not None
        jl.info("after flush")
    finally:
        handle.uninstall()
        sc.setLogLevel("ERROR")
    msgs = [(r["logger"], r["msg"]) for r in _spark_records(log_dir)]
    start = msgs.index(("lt.marker", "before flush"))
    assert msgs[start : start + 2] == [("lt.marker", "before flush"), ("lt.marker", "after flush")]
    user_job = [m for lg, m in msgs[:start] if lg.startswith("org.apache.spark.scheduler.")]
    assert user_job  # the user's own job is captured


def test_two_handles_capture_and_detach_independently(spark_warn, make_logger, log_dir):
    """Two loggers' appenders both capture; uninstalling one leaves the other attached."""
    jl = _jlog(spark_warn, "lt.two")
    first, second = make_logger(), make_logger()
    h1 = spark_listener.install(spark_warn, first, flush_interval="1 h")
    h2 = spark_listener.install(spark_warn, second, flush_interval="1 h")
    try:
        jl.warn("both")
        h2.uninstall()
        assert _attached(spark_warn)
        jl.warn("first only")
    finally:
        h1.uninstall()
        h2.uninstall()
    assert not _attached(spark_warn)
    from laketrace.log.companion import companion_prefix
    from laketrace.spool.names import list_spool
    from laketrace.spool.read import read_records
    from spark_listener._spark_logs import SUFFIX

    def msgs(log: Any) -> list[str]:
        prefix = companion_prefix(log.name, SUFFIX)
        paths = [p for p, n in list_spool(log_dir) if n.logger == prefix]
        return [r["msg"] for p in paths for r in read_records(p)]

    assert msgs(first) == ["both", "first only"] and msgs(second) == ["both"]
