"""The Spark writer: explicit-schema reads, idempotent appends, quarantine, tables, and
cross-writer compatibility with delta-rs."""

from __future__ import annotations

import os

import pytest
from chispa import assert_df_equality

import laketrace
from laketrace import create_views, flush_to_delta, query
from laketrace.flush import faults as flush_mod
from laketrace.schema import spark_schema


def _log_some(make_logger, n, **config):
    log = make_logger(**config)
    for i in range(n):
        log.info("record {}", i, i=i)
    log.close()
    return log


def test_spark_flush_writes_lake_schema(spark, make_logger, log_dir, tmp_path):
    """Spark flush creates the table with the lake schema and ships every record once."""
    _log_some(make_logger, 50)
    target = str(tmp_path / "t")
    res = flush_to_delta(spark, log_dir=log_dir, path=target)
    assert (res.records, res.writer, res.quarantined) == (50, "spark", 0)
    df = spark.read.format("delta").load(target)
    assert [f.name for f in df.schema.fields] == [f.name for f in spark_schema().fields]
    assert {f.name: f.dataType for f in df.schema.fields} == {
        f.name: f.dataType for f in spark_schema().fields
    }
    assert df.select("record_id").distinct().count() == 50
    again = flush_to_delta(spark, log_dir=log_dir, path=target)
    assert again.records == 0 and df.count() == 50
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{target}`").first()
    assert detail["partitionColumns"] == ["date"]
    assert detail["properties"].get("delta.appendOnly") == "false"


def test_spark_flush_content_matches_spool(spark, make_logger, log_dir, tmp_path):
    """The flushed rows equal the spool records (ts, date, level, msg, context)."""
    from pyspark.sql import functions as F

    _log_some(make_logger, 5)
    target = str(tmp_path / "t")
    flush_to_delta(spark, log_dir=log_dir, path=target)
    ctx = F.to_json("context").alias("context")  # maps cannot be sorted for comparison
    got = spark.read.format("delta").load(target).select("msg", "level", ctx, "date")
    expected = (
        spark.read.schema(spark_schema(spool=True))
        .json(log_dir)
        .select("msg", "level", ctx, F.to_date(F.col("ts")).alias("date"))
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_spark_quarantine(spark, make_logger, log_dir, tmp_path):
    """Spark flush quarantines bad lines with file, line number and reason."""
    _log_some(make_logger, 3)
    with open(
        os.path.join(log_dir, "x__20251128T132000000000Z__r__1__000001.sealed.jsonl"), "w"
    ) as fh:
        fh.write('{"ts":"2025-11-28T13:20:00Z","level":"INFO","record_id":"good"}\n')
        fh.write("{broken\n")
        fh.write('{"ts":"not a time","level":"INFO","record_id":"bad-ts"}\n')
    target = str(tmp_path / "t")
    res = flush_to_delta(spark, log_dir=log_dir, path=target)
    assert (res.records, res.quarantined) == (4, 2)
    q = spark.read.format("delta").load(target + "_quarantine").orderBy("line_no").collect()
    assert [(r.line_no, r.reason.split(":")[0]) for r in q] == [(2, "not valid JSON"), (3, "ts")]


def test_spark_quarantine_option_and_empty_required_field(spark, make_logger, log_dir, tmp_path):
    """quarantine= names the Spark writer's quarantine table; an empty level is rejected as
    validation rejects it (one rule for both writers)."""
    _log_some(make_logger, 2)
    with open(
        os.path.join(log_dir, "x__20251128T132000000000Z__r__1__000001.sealed.jsonl"), "w"
    ) as fh:
        fh.write('{"ts":"2025-11-28T13:20:00Z","level":"","record_id":"empty-level"}\n')
    target, elsewhere = str(tmp_path / "t"), str(tmp_path / "rejects")
    res = flush_to_delta(spark, log_dir=log_dir, path=target, quarantine=elsewhere)
    assert (res.records, res.quarantined) == (2, 1)
    q = spark.read.format("delta").load(elsewhere).collect()
    assert [r.reason for r in q] == ["missing required field 'level'"]
    assert not os.path.exists(target + "_quarantine")


def test_spark_retry_after_commit_is_skipped_by_delta(spark, make_logger, log_dir, tmp_path):
    """A crash after the Delta commit, before the manifest update: the re-run is skipped
    by Delta's txnAppId/txnVersion and no record is duplicated."""

    class Crash(BaseException):
        pass

    def crash(point):
        if point == "after_commit":
            raise Crash

    _log_some(make_logger, 20)
    target = str(tmp_path / "t")
    flush_mod.fault_hook = crash
    try:
        with pytest.raises(Crash):
            flush_to_delta(spark, log_dir=log_dir, path=target)
    finally:
        flush_mod.fault_hook = None
    res = flush_to_delta(spark, log_dir=log_dir, path=target)
    assert res.skipped_batches == 1 and res.records == 0
    assert spark.read.format("delta").load(target).count() == 20


def test_catalog_table_target(spark, make_logger, log_dir):
    """A catalog table name is created with saveAsTable semantics and gets the views."""
    _log_some(make_logger, 7)
    try:
        res = flush_to_delta(spark, log_dir=log_dir, table="default.lt_app_logs")
        assert res.records == 7
        assert spark.table("default.lt_app_logs").count() == 7
        names = create_views(spark, "default.lt_app_logs")
        runs = spark.table(names["runs"]).collect()
        assert sum(r.records for r in runs) == 7
        assert spark.table(names["errors"]).count() == 0
    finally:
        for t in ("lt_app_logs_errors", "lt_app_logs_runs"):
            spark.sql(f"DROP VIEW IF EXISTS default.{t}")
        for t in ("lt_app_logs", "lt_app_logs_quarantine"):
            spark.sql(f"DROP TABLE IF EXISTS default.{t}")


def test_query_with_spark_and_path_views(spark, make_logger, log_dir, tmp_path):
    """query(spark=...) exposes logs/logs_errors/logs_runs; create_views works on paths (and
    makes the Spark-log view)."""
    log = make_logger()
    log.info("a")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("b")
    log.close()
    target = str(tmp_path / "pathtable")
    flush_to_delta(spark, log_dir=log_dir, path=target)
    rows = query("SELECT exception_class FROM logs_errors", path=target, spark=spark).collect()
    assert [r[0] for r in rows] == ["KeyError"]
    names = create_views(spark, target)
    assert names == {
        "errors": "pathtable_errors", "runs": "pathtable_runs", "spark": "pathtable_spark"
    }  # fmt: skip
    assert spark.table("pathtable_runs").first()["error_count"] == 1
    assert spark.table("pathtable_runs").first()["spark_error_count"] == 0
    assert spark.table("pathtable_spark").count() == 0


def test_cross_writer_round_trip(spark, make_logger, log_dir, tmp_path):
    """delta-rs writes and Spark reads; Spark appends and delta-rs reads; counts match."""
    from laketrace.testing import read_delta

    target = str(tmp_path / "shared")
    _log_some(make_logger, 30)
    first = flush_to_delta(log_dir=log_dir, path=target)  # delta-rs
    assert first.writer == "delta-rs"
    assert spark.read.format("delta").load(target).count() == 30
    _log_some(make_logger, 12)
    second = flush_to_delta(spark, log_dir=log_dir, path=target)  # Spark continues the txn
    assert second.writer == "spark" and second.records == 12
    rs_ids = read_delta(target).column("record_id").to_pylist()
    spark_ids = [
        r[0] for r in spark.read.format("delta").load(target).select("record_id").collect()
    ]
    assert len(rs_ids) == len(set(rs_ids)) == 42
    assert sorted(rs_ids) == sorted(spark_ids)
    _log_some(make_logger, 3)
    third = flush_to_delta(log_dir=log_dir, path=target)  # delta-rs again, after Spark
    assert third.records == 3
    assert spark.read.format("delta").load(target).count() == 45
    assert laketrace.query("SELECT count(*) AS n FROM logs", path=target).to_pylist() == [{"n": 45}]


def test_report_with_spark_matches_duckdb(spark, make_logger, log_dir, tmp_path, clock):
    """`laketrace report --spark` gathers the same runs, timelines and errors as DuckDB."""
    pytest.importorskip("plotly")
    pytest.importorskip("duckdb")
    from laketrace.read.report import collect, write_report

    for run in ("run-a", "run-b"):
        log = make_logger(clock=clock, run_id=run)
        log.info("start")
        clock.advance(90)
        log.error("lookup failed")
        log.close()
    target = str(tmp_path / "t")
    flush_to_delta(spark, log_dir=log_dir, path=target)
    with_spark, with_duckdb = collect(path=target, spark=spark), collect(path=target)
    assert [r["run_id"] for r in with_spark["runs"]] == ["run-b", "run-a"]

    def timeline(data):
        return sorted((r["run_id"], r["level"], r["n"]) for r in data["timeline"])

    assert timeline(with_spark) == timeline(with_duckdb)
    assert [(r["msg"], r["n"]) for r in with_spark["top_errors"]] == [("lookup failed", 2)]
    page = (tmp_path / "r.html").as_posix()
    write_report(page, path=target, spark=spark)
    text = open(page, encoding="utf-8").read()
    assert "run-a" in text and "run-b" in text
