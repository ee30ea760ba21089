"""Spark reads LakeTrace spools with Spark's own structured-log schema and with ours."""

from __future__ import annotations

from laketrace import SPARK_LOG_SCHEMA
from laketrace.schema import arrow_schema, spark_schema


def _write_spool(make_logger):
    log = make_logger(level="DEBUG")
    log.bind(job="nightly").info("loaded {} rows", 10, table="sales")
    try:
        raise ValueError("bad row")
    except ValueError:
        log.exception("failed", step="load")
    log.close()
    return log


def test_spark_log_schema_parses_spool(spark, make_logger, log_dir):
    """spark.read.schema(SPARK_LOG_SCHEMA).json(spool_dir) parses every LakeTrace line."""
    _write_spool(make_logger)
    df = spark.read.schema(SPARK_LOG_SCHEMA).option("mode", "FAILFAST").json(log_dir)
    rows = sorted(df.collect(), key=lambda r: r.msg)
    assert [r.msg for r in rows] == ["failed", "loaded 10 rows"]
    failed, loaded = rows
    assert loaded.level == "INFO" and loaded.context == {"job": "nightly", "table": "sales"}
    assert loaded.ts is not None and loaded.exception is None
    assert failed.exception["class"] == "ValueError"
    assert failed.exception["msg"] == "bad row"
    assert failed.exception["stacktrace"][0]["method"] == "_write_spool"
    assert all(r.logger for r in rows)


def test_lake_spool_schema_parses_every_column(spark, make_logger, log_dir):
    """Our spool schema reads every column with the right types (no corrupt records)."""
    log = _write_spool(make_logger)
    df = (
        spark.read.schema(spark_schema(spool=True))
        .option("mode", "FAILFAST")
        .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX")
        .json(log_dir)
    )
    rows = df.collect()
    assert len(rows) == 2
    for r in rows:
        assert r.logger == log.name and r.source == "driver" and r.pid > 0
        assert r.line > 0 and r.record_id and r.run_id
        assert r.ts.year >= 2025


def test_spark_and_arrow_schemas_agree(spark):
    """The Spark StructType and the Arrow schema come from one definition and agree."""
    s = spark_schema()
    a = arrow_schema()
    assert s.fieldNames() == a.names
    df = spark.createDataFrame([], s)
    assert df.schema == s
    simple = {f.name: f.dataType.simpleString() for f in s.fields}
    assert simple["context"] == "map<string,string>"
    assert simple["exception"].startswith("struct<class:string,msg:string,stacktrace:array<")
    assert str(a.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(a.field("date").type) == "date32[day]"
