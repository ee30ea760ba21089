"""Flush throughput: 1,000,000 spool records (~600 MB) into local Delta tables, in one run.

(c) ``flush_to_delta`` with delta-rs (no JVM), each run in a child process to measure its
peak RSS, side by side with the same flush from an earlier commit (``--baseline``, taken
with ``git archive``): the figure the change is judged against, on the same machine in
the same minutes. Targets: >= 400,000 records/s, peak RSS < 1 GB.

(a) ``flush_to_delta`` with Spark against (b) the raw baseline
``spark.read.schema(...).json(files)`` appended with ``write.format("delta")``, both into
tables created alike (LakeTrace's schema, table properties and partitioning) and written
alike (``date`` derived from ``ts``, ``ingested_at``, txn options), once date-partitioned
and once unpartitioned. Target: (a) <= 1.10x (b) on both shapes.

Rounds alternate the contenders; each figure is the best of its rounds.

    .venv/bin/python benchmarks/bench_flush.py [--records 1000000] [--rounds 2]
        [--baseline 9b30217 | --baseline none] [--skip-spark] [--skip-delta-rs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace
from laketrace.schema import COLUMN_NAMES, spark_schema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

#: the last commit before the flush work of issue 16 (the figure that work is judged by)
DEFAULT_BASELINE = "9b30217"


def make_spool(log_dir: str, n: int) -> int:
    log = laketrace.get_logger(
        "bench.flush", {"log_dir": log_dir, "stdout": False, "rotation": "32 MB"}
    )
    b = log.bind(job="nightly", user="etl")
    for i in range(n):
        b.info("processed order {} for customer", i, order=i, region="emea")
    log.close()
    return sum(
        os.path.getsize(os.path.join(log_dir, f))
        for f in os.listdir(log_dir)
        if f.endswith(".jsonl")
    )


def linked_copy(spool: str, dest: str) -> str:
    """A fresh log_dir holding hard links to the spool files (no ledger: a first flush)."""
    os.makedirs(dest)
    for name in os.listdir(spool):
        if name.endswith(".jsonl"):
            os.link(os.path.join(spool, name), os.path.join(dest, name))
    return dest


def baseline_tree(rev: str, tmp: str) -> str | None:
    """The ``laketrace`` package as of ``rev``, unpacked under ``tmp`` (None if git lacks it)."""
    dest = os.path.join(tmp, "baseline")
    os.makedirs(dest)
    try:
        archive = subprocess.run(
            ["git", "-C", ROOT, "archive", rev, "laketrace"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"baseline {rev!r} not available ({exc}); measuring this tree only")
        return None
    return dest


RS_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import laketrace
t = time.perf_counter()
r = laketrace.flush_to_delta(log_dir=sys.argv[1], path=sys.argv[2])
dt = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": dt, "records": r.records, "quarantined": r.quarantined,
                  "cpu": use.ru_utime + use.ru_stime, "maxrss_mb": use.ru_maxrss / 1024}))
"""


def run_delta_rs(spool: str, work: str, code_root: str) -> dict:
    log_dir = linked_copy(spool, os.path.join(work, "spool"))
    try:
        out = subprocess.run(
            [sys.executable, "-c", RS_CHILD, log_dir, os.path.join(work, "t"), code_root],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def bench_delta_rs(spool: str, tmp: str, rounds: int, n: int, baseline: str | None) -> None:
    sides = {"this tree": ROOT}
    if baseline:
        sides[f"baseline {baseline}"] = baseline_tree(baseline, tmp) or ""
    sides = {k: v for k, v in sides.items() if v}
    runs: dict[str, list[dict]] = {k: [] for k in sides}
    for r in range(rounds):
        for name, code in sides.items() if r % 2 == 0 else reversed(sides.items()):
            res = run_delta_rs(spool, os.path.join(tmp, f"rs-{r}-{len(runs[name])}"), code)
            assert res["records"] == n and res["quarantined"] == 0, res
            runs[name].append(res)
    rates = {}
    for name, got in runs.items():
        best = min(got, key=lambda x: x["seconds"])
        rate = rates[name] = n / best["seconds"]
        rss = max(x["maxrss_mb"] for x in got)
        all_rates = ", ".join(f"{n / x['seconds']:,.0f}" for x in got)
        cpu = min(x["cpu"] for x in got)
        print(
            f"(c) delta-rs flush, {name}: {best['seconds']:.2f}s = {rate:,.0f} records/s "
            f"(rounds: {all_rates}); CPU {cpu:.1f}s (whole process); peak RSS {rss:.0f} MB"
        )
        if name == "this tree":
            print(
                f"    target >= 400,000 records/s {_met(rate >= 400_000)}; "
                f"peak RSS < 1024 MB {_met(rss < 1024)}"
            )
    if len(rates) == 2:
        mine, base = rates["this tree"], rates[f"baseline {baseline}"]
        print(f"    this tree / baseline: {mine / base:.2f}x the throughput")


def _raw_append(spark: Any, files: list[str], path: str, version: int) -> None:
    """The raw baseline: Spark's JSON reader straight into the table, same shape of rows."""
    from pyspark.sql import functions as F

    df = spark.read.schema(spark_schema(spool=True)).json(files)
    df = df.withColumn("date", F.to_date("ts")).withColumn("ingested_at", F.current_timestamp())
    (
        df.select(*COLUMN_NAMES)
        .write.format("delta")
        .mode("append")
        .option("txnAppId", "raw-baseline")
        .option("txnVersion", str(version))
        .option("userMetadata", '{"bench":"raw"}')
        .save(path)
    )


def _create(spark: Any, path: str, partition_by: str | None) -> str:
    """An empty table exactly as the flush creates it (not part of either timing)."""
    from laketrace.flush.spark import SparkWriter
    from laketrace.targets import resolve_target

    target = resolve_target(path=path, table=None, runtime="local", has_spark=True)
    SparkWriter(spark, target).ensure_tables(partition_by)
    return path


def bench_spark(spool: str, tmp: str, rounds: int, n: int) -> None:
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("bench-flush", master="local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    files = [os.path.join(spool, f) for f in sorted(os.listdir(spool)) if f.endswith(".jsonl")]
    # warm the JVM, the JSON reader and Delta once for both contenders
    _raw_append(spark, files[:1], _create(spark, os.path.join(tmp, "warm"), "date"), 0)
    shapes = {"date-partitioned": "date", "unpartitioned": None}
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        for shape, part in shapes.items():
            order = ("raw", "flush") if r % 2 == 0 else ("flush", "raw")
            for side in order:
                path = _create(spark, os.path.join(tmp, f"{side}-{part}-{r}"), part)
                log_dir = linked_copy(spool, os.path.join(tmp, f"spool-{side}-{part}-{r}"))
                t = time.perf_counter()
                if side == "raw":
                    _raw_append(spark, files, path, r + 1)
                else:
                    res = laketrace.flush_to_delta(
                        spark, log_dir=log_dir, path=path, partition_by=part
                    )
                    assert res.records == n, res
                times.setdefault((shape, side), []).append(time.perf_counter() - t)
                shutil.rmtree(path, ignore_errors=True)
                shutil.rmtree(log_dir, ignore_errors=True)
    for shape in shapes:
        raw, flush = min(times[(shape, "raw")]), min(times[(shape, "flush")])
        ratio = flush / raw
        rounds_text = " / ".join(
            f"{a:.1f} vs {b:.1f}"
            for a, b in zip(times[(shape, "flush")], times[(shape, "raw")], strict=True)
        )
        print(
            f"(a) Spark flush_to_delta vs (b) raw read.json+append, {shape}: {flush:.1f}s vs "
            f"{raw:.1f}s = {ratio:.2f}x (target <= 1.10x) {_met(ratio <= 1.10)} "
            f"(rounds: {rounds_text})"
        )
    spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision, or 'none'")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--skip-delta-rs", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-flush-")
    try:
        spool = os.path.join(tmp, "spool")
        t = time.perf_counter()
        size = make_spool(spool, args.records)
        print(
            f"spool: {args.records:,} records, {size / 1e6:.0f} MB "
            f"(written in {time.perf_counter() - t:.1f}s)"
        )
        if not args.skip_delta_rs:
            baseline = None if args.baseline.lower() == "none" else args.baseline
            bench_delta_rs(spool, tmp, args.rounds, args.records, baseline)
        if not args.skip_spark:
            bench_spark(spool, tmp, args.rounds, args.records)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
