"""Flush throughput: 1,000,000 spool records (~300 MB) into local Delta tables, in one run:

(a) ``flush_to_delta`` with Spark, (b) the raw baseline
``spark.read.schema(...).json(dir).write.format("delta").mode("append")``, and
(c) ``flush_to_delta`` with delta-rs (in a child process, to measure its peak RSS).
Targets: (a) <= 1.25x the time of (b); (c) >= 300,000 records/s; (c) peak RSS < 1 GB.

    .venv/bin/python benchmarks/bench_flush.py [--records 1000000] [--rounds 1]
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace
from laketrace.schema import spark_schema


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


RS_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import laketrace
t = time.perf_counter()
r = laketrace.flush_to_delta(log_dir=sys.argv[1], path=sys.argv[2])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "records": r.records,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_delta_rs(log_dir: str, target: str) -> dict:
    root = os.path.join(os.path.dirname(__file__), "..")
    out = subprocess.run(
        [sys.executable, "-c", RS_CHILD, log_dir, target, root],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--skip-spark", action="store_true")
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
        rs_runs = []
        for r in range(args.rounds):
            rs_runs.append(run_delta_rs(spool, os.path.join(tmp, f"rs{r}")))
        best = min(rs_runs, key=lambda x: x["seconds"])
        rate = best["records"] / best["seconds"]
        print(
            f"(c) delta-rs flush: {best['seconds']:.1f}s, {rate:,.0f} records/s "
            f"(target >= 300,000) {'MET' if rate >= 300_000 else 'MISSED'}; peak RSS "
            f"{best['maxrss_mb']:.0f} MB (target < 1024) "
            f"{'MET' if best['maxrss_mb'] < 1024 else 'MISSED'}"
        )
        if args.skip_spark:
            return
        from laketrace.cli.spark_session import local_spark

        spark = local_spark("bench-flush", master="local[2]")
        spark.sparkContext.setLogLevel("ERROR")
        files = [
            os.path.join(spool, f) for f in sorted(os.listdir(spool)) if f.endswith(".sealed.jsonl")
        ]
        # warm the JVM and Delta once for both contenders
        spark.read.schema(spark_schema(spool=True)).json(files[:1]).write.format("delta").mode(
            "append"
        ).save(os.path.join(tmp, "warm"))
        a_times, b_times, flat_times = [], [], []
        for r in range(args.rounds):
            t = time.perf_counter()
            spark.read.schema(spark_schema(spool=True)).json(files).write.format("delta").mode(
                "append"
            ).save(os.path.join(tmp, f"raw{r}"))
            b_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = laketrace.flush_to_delta(spark, log_dir=spool, path=os.path.join(tmp, f"sp{r}"))
            a_times.append(time.perf_counter() - t)
            assert res.records == args.records, res
            t = time.perf_counter()
            laketrace.flush_to_delta(
                spark, log_dir=spool, path=os.path.join(tmp, f"fl{r}"), partition_by=None
            )
            flat_times.append(time.perf_counter() - t)
        ratio = min(a_times) / min(b_times)
        print(f"(b) raw spark.read.json -> delta: {min(b_times):.1f}s")
        print(
            f"(a) flush_to_delta with Spark: {min(a_times):.1f}s -> {ratio:.2f}x the baseline "
            f"(target <= 1.25x) {'MET' if ratio <= 1.25 else 'MISSED'}"
        )
        print(
            f"    (unpartitioned flush, like the baseline's table: {min(flat_times):.1f}s -> "
            f"{min(flat_times) / min(b_times):.2f}x)"
        )
        spark.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
