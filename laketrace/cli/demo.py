"""``laketrace demo``: the main job, end to end on the embedded default lakehouse.

With Spark (default): a local SparkSession with Delta, a rotating logger, the listener, a
small pipeline (generated orders, a UDF that logs through the executor proxy, a stage that
fails once and is retried, a deliberately caught exception), a flush into
``./lakehouse/laketrace_logs``, the ``_errors``/``_runs`` views, and a summary.
``--no-spark`` tells the same story with the delta-rs writer and DuckDB queries.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Iterator
from typing import Any

from ..log.logger import get_logger
from .progress import Progress

TABLE = os.path.join("lakehouse", "laketrace_logs")
SPOOL = os.path.join("lakehouse", "_spool")
JVM_LOG = "spark-jvm.log"


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo job; returns a process exit code."""
    workdir = os.path.abspath(args.workdir)
    table = os.path.join(workdir, TABLE)
    config = {
        "log_dir": os.path.join(workdir, SPOOL),
        "level": "DEBUG",
        "rotation": "1 MB",
        "stdout": False,
        "path": table,
    }
    out = Progress()
    if args.no_spark:
        return _demo_without_spark(get_logger("laketrace.demo", config), table, out)
    return _demo_with_spark(config, table, out)


def _orders(n: int, seed: int = 7) -> list[tuple[int, str, float]]:
    rng = random.Random(seed)
    regions = ["emea", "amer", "apac"]
    return [(i, rng.choice(regions), round(rng.uniform(-5, 500), 2)) for i in range(n)]


def _caught_exception(log: Any) -> None:
    try:
        rate = {"emea": 1.1, "amer": 1.0}["apac"]  # deliberately missing: caught below
        del rate
    except KeyError:
        log.exception("currency rate missing for region apac; using 1.0", region="apac")


def _demo_with_spark(config: dict, table: str, out: Progress) -> int:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print(
            "laketrace demo: pyspark is not installed. Run ./scripts/setup first, or use "
            "`laketrace demo --no-spark` on a machine without Java.",
            file=sys.stderr,
        )
        return 2
    import spark_listener

    from .. import runtime
    from ..read.query import create_views

    spark = _start_spark(table, out)
    runtime.set_run_id(None)  # the run id is the Spark application id from here on
    log = get_logger("laketrace.demo", config)
    handle = spark_listener.install(spark, log, path=table, flush_interval="5 min")
    log.info("demo pipeline starting", table=table)
    totals = _pipeline(spark, log, out)
    out.step("handling a deliberate error")
    _caught_exception(log)
    log.info("demo pipeline finished", regions=len(totals))

    out.step("flushing the spool into Delta")
    result = log.flush_to_delta(spark, progress=out.flush_callback)
    names = create_views(spark, table)
    handle.uninstall()
    runs = spark.table(names["runs"]).orderBy("start_ts").collect()
    errors = (
        spark.table(names["errors"])
        .orderBy("ts")
        .select("ts", "source", "msg", "exception_class", "traceback")
        .collect()
    )
    out.done()
    _print_summary(out, result, [r.asDict() for r in runs], [r.asDict() for r in errors], table)
    spark.stop()
    return 0


def _start_spark(table: str, out: Progress) -> Any:
    from .spark_session import local_spark

    # everything the demo makes stays under --workdir: Spark's warehouse directory, and the
    # JVM's own output (Ivy's dependency report, log4j), which would otherwise fill the
    # terminal before the demo's first line
    workdir = os.path.dirname(os.path.dirname(table))
    warehouse = os.path.join(workdir, "spark-warehouse")
    jvm_log = os.path.join(workdir, JVM_LOG)
    out.step(
        "starting a local SparkSession with Delta (local[*], 2 task attempts); "
        f"Spark's own output goes to {os.path.relpath(jvm_log)}"
    )
    spark = local_spark(
        "laketrace-demo",
        master="local[*,2]",
        conf={"spark.sql.warehouse.dir": warehouse},
        jvm_log=jvm_log,
    )
    # Spark's own console logging is silenced: the listener records its failures instead
    spark.sparkContext.setLogLevel("OFF")
    return spark


def _pipeline(spark: Any, log: Any, out: Progress) -> list[Any]:
    """Orders -> a logging UDF -> a stage that fails once -> totals per region."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType

    proxy = log.for_executors(level="INFO")
    out.step("reading a generated dataset of 20,000 orders")
    orders = spark.createDataFrame(_orders(20_000), "order_id long, region string, amount double")
    orders = orders.repartition(4)

    out.step("transforming with a UDF that logs through the executor proxy")

    @F.udf(DoubleType())
    def with_tax(amount: float) -> float:
        if amount < 0:
            proxy.warning("negative amount {} set to 0", amount, amount=amount)
            return 0.0
        return round(amount * 1.2, 2)

    enriched = orders.withColumn("gross", with_tax("amount"))

    def flaky(rows: Iterator[Any]) -> Iterator[Any]:
        from pyspark import TaskContext

        tc = TaskContext.get()
        assert tc is not None  # this function only runs inside Spark tasks
        if tc.partitionId() == 1 and tc.attemptNumber() == 0:
            raise RuntimeError("simulated executor hiccup (the retry succeeds)")
        n = 0
        for row in rows:
            n += 1
            yield row
        proxy.info("partition scored", rows=n, attempt=tc.attemptNumber())

    out.step("scoring in a stage that fails once and is retried")
    scored = spark.createDataFrame(enriched.rdd.mapPartitions(flaky), enriched.schema)
    totals = scored.groupBy("region").agg(F.sum("gross").alias("gross")).collect()
    for row in sorted(totals, key=lambda r: r.region):
        log.success("region {} gross {:.2f}", row.region, row.gross, region=row.region)
    return totals


def _demo_without_spark(log: Any, table: str, out: Progress) -> int:
    from ..read.query import query

    out.step("generating 20,000 orders (no Spark: plain Python)")
    orders = _orders(20_000)
    log.info("demo pipeline starting (no Spark)", table=table)
    out.step("transforming")
    gross: dict[str, float] = {}
    for i, (_, region, amount) in enumerate(orders):
        if amount < 0:
            log.warning("negative amount {} set to 0", amount, amount=amount)
            amount = 0.0
        gross[region] = gross.get(region, 0.0) + amount * 1.2
        if i % 5000 == 0:
            log.debug("processed {} orders", i)
    for region in sorted(gross):
        log.success("region {} gross {:.2f}", region, gross[region], region=region)
    out.step("handling a deliberate error")
    _caught_exception(log)
    log.info("demo pipeline finished", regions=len(gross))
    out.step("flushing the spool into Delta with delta-rs")
    result = log.flush_to_delta(progress=out.flush_callback)
    runs = query("SELECT * FROM logs_runs ORDER BY start_ts", path=table).to_pylist()
    errors = query(
        "SELECT ts, source, msg, exception_class, traceback FROM logs_errors ORDER BY ts",
        path=table,
    ).to_pylist()
    out.done()
    _print_summary(out, result, runs, errors, table)
    return 0


def _print_summary(
    out: Progress, result: Any, runs: list[dict], errors: list[dict], table: str
) -> None:
    out.heading("Flush")
    out.line(str(result))
    out.heading("Runs (logs_runs view)")
    cols = [
        "run_id",
        "records",
        "debug_count",
        "info_count",
        "warning_count",
        "error_count",
        "duration_s",
        "first_error",
    ]
    out.table(cols, [[r.get(c) for c in cols] for r in runs[-5:]])
    out.heading(f"Errors ({len(errors)}) with tracebacks (logs_errors view)")
    for e in errors[-5:]:
        out.line(f"{e['ts']}  [{e['source']}] {e['msg']}")
        if e.get("traceback"):
            out.line("    " + str(e["traceback"]).replace("\n", "\n    "))
    out.heading("Where")
    out.line(f"Delta table: {table}")
    out.line(
        f'Query it:    laketrace sql "SELECT level, count(*) FROM logs GROUP BY level" '
        f"--path {os.path.relpath(table)}"
    )
    out.line(f"Report:      laketrace report --out report.html --path {os.path.relpath(table)}")
