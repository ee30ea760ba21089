"""Every ```sql query of the README runs on Spark and on DuckDB and returns rows."""

from __future__ import annotations

import itertools
import time

import pytest

import laketrace
import spark_listener

from ..test_readme import readme_blocks

QUERIES = readme_blocks("sql")


@pytest.fixture(scope="module")
def logs_table(spark, tmp_path_factory):
    """A table like a real run's: a job group, executor records, a failed stage, an exception."""
    pytest.importorskip("duckdb")
    root = tmp_path_factory.mktemp("readme-sql")
    path = str(root / "logs")
    log = laketrace.get_logger(
        "readme.sql", {"log_dir": str(root / "spool"), "stdout": False, "level": "DEBUG"}
    )
    handle = spark_listener.install(spark, log, path=path, flush_interval="1 h")
    sc = spark.sparkContext
    proxy = log.for_executors()

    def clean(rows):
        n = sum(1 for _ in rows)
        proxy.info("partition cleaned", rows=n)
        yield n

    def load(index, rows):
        if index == 3:  # starts after two of 0-2 finished (two task slots, partition order),
            # so their task-end events, which carry their records, are ahead of this failure
            raise ValueError("bad row in partition 3")
        proxy.warning("partition loaded", rows=sum(1 for _ in rows))
        yield index

    ended = handle.handler.jobs_ended
    sc.setJobGroup("nightly-etl", "load orders")
    try:
        log.info("nightly load started")
        assert sum(sc.parallelize(range(40), 4).mapPartitions(clean).collect()) == 40
        with pytest.raises(Exception, match="bad row"):
            sc.parallelize(range(40), 4).mapPartitionsWithIndex(load).collect()
        try:
            {}["apac"]
        except KeyError:
            log.exception("currency rate missing")
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.job.description", None)
    deadline = time.monotonic() + 60
    while handle.handler.jobs_ended < ended + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    result = handle.flush()
    handle.uninstall()
    assert result is not None  # (a job end may have flushed earlier records already)
    yield path
    log.close()


def test_readme_has_useful_queries():
    """The README keeps 8-10 SQL examples."""
    assert 8 <= len(QUERIES) <= 10


@pytest.mark.parametrize(
    ("index", "engine"), list(itertools.product(range(len(QUERIES)), ("spark", "duckdb")))
)
def test_readme_sql_runs_and_returns_rows(spark, logs_table, index, engine):
    """A README query runs unchanged on this engine and finds rows in a realistic table."""
    sql = QUERIES[index]
    if engine == "spark":
        rows = [r.asDict() for r in laketrace.query(sql, path=logs_table, spark=spark).collect()]
    else:
        rows = laketrace.query(sql, path=logs_table).to_pylist()
    assert rows, f"no rows from README query {index}:\n{sql}"
