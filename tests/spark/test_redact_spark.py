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
