"""Redaction on real local Spark: the redactor travels into tasks with the executor proxy and
executor records land masked in the driver's spool."""

from __future__ import annotations

import json

from ..conftest import spool_records

PW = "hunter2-Spark-77"


def test_executor_records_are_masked(spark, make_logger, log_dir):
    """A UDF logging a secret message and secret-named fields writes only masked records."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    log = make_logger(redact=True)
    proxy = log.for_executors(level="INFO").bind(token=PW)

    @F.udf(LongType())
    def work(x):
        proxy.info("conn https://bob:{}@db/x", PW, cfg={"db": {"Password": PW}})
        return x

    assert len(spark.range(0, 6, 1, 3).select(work("id").alias("y")).collect()) == 6
    log.close()
    recs = [r for r in spool_records(log_dir) if r["source"] == "executor"]
    assert len(recs) == 6
    assert PW not in json.dumps(recs)
    assert {r["msg"] for r in recs} == {"conn https://bob:***@db/x"}
    assert recs[0]["context"]["token"] == "***"


def test_spark_log_files_carry_the_masked_logger_name(spark, make_logger, log_dir):
    """With redact on, the Spark driver-log appender's files are named with the masked logger
    name, as the logger's own files are: a secret in the logger name is in no file name, and
    the files are the logger's companions (their retention finds them)."""
    import os

    import spark_listener
    from laketrace.log import CompanionFiles

    spark.sparkContext.setLogLevel("WARN")
    log = make_logger(f"etl https://bob:{PW}@db/x", redact=True)
    handle = spark_listener.install(spark, log, flush_interval="1 h", spark_logs="WARN")
    try:
        jvm = spark.sparkContext._jvm
        jvm.org.apache.logging.log4j.LogManager.getLogger("lt.masked").warn("spark warn")
    finally:
        handle.uninstall()
        spark.sparkContext.setLogLevel("ERROR")
    log.close()
    names = os.listdir(log_dir)
    assert names and not [n for n in names if PW in n]
    spark_recs = [r for r in spool_records(log_dir) if r["source"] == "spark"]
    assert [r["msg"] for r in spark_recs] == ["spark warn"]
    companion = CompanionFiles(log, "spark")
    assert len(companion._sealed_files()) == 1
