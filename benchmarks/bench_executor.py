"""Executor logging overhead: a Python UDF over 2,000,000 rows in 200 partitions, in one run:

(a) no logging, (b) the proxy with one INFO record per partition, (c) the proxy with one
DEBUG record per row while the level is INFO (filtered on the executor).
Targets: (b) <= 1.05x (a); (c) <= 1.10x (a).

    .venv/bin/python benchmarks/bench_executor.py [--rows 2000000] [--partitions 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--partitions", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--rss-partitions",
        type=int,
        default=0,
        help="also run an N-partition job shipping one record per task and report "
        "the driver's RSS growth (10000 takes ~11 min on a 2-core machine)",
    )
    args = ap.parse_args()
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    from laketrace.cli.spark_session import local_spark

    tmp = tempfile.mkdtemp(prefix="laketrace-bench-exec-")
    spark = local_spark("bench-executor", master="local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    log = laketrace.get_logger("bench.exec", {"log_dir": tmp, "stdout": False})
    proxy = log.for_executors(level="INFO")

    def plain(x):
        return x * 2

    def per_partition(x):
        # one INFO record per partition: the first row of each partition logs
        if x % rows_per_part == 0:
            proxy.info("partition starts at {}", x)
        return x * 2

    def per_row_debug(x):
        proxy.debug("row {}", x)  # below INFO: filtered on the executor
        return x * 2

    rows_per_part = args.rows // args.partitions
    df = spark.range(0, args.rows, 1, args.partitions)
    cases = {
        "(a) no logging": F.udf(plain, LongType()),
        "(b) 1 INFO per partition": F.udf(per_partition, LongType()),
        "(c) 1 filtered DEBUG per row": F.udf(per_row_debug, LongType()),
    }
    if args.rounds:
        df.select(cases["(a) no logging"]("id").alias("v")).agg(F.sum("v")).collect()  # warm up
    times: dict[str, list[float]] = {k: [] for k in cases}
    try:
        for _ in range(args.rounds):
            for name, udf in cases.items():
                t = time.perf_counter()
                df.select(udf("id").alias("v")).agg(F.sum("v")).collect()
                times[name].append(time.perf_counter() - t)
        base = min(times["(a) no logging"]) if args.rounds else 0.0
        for name, ts in times.items() if args.rounds else ():
            print(f"{name:32} {min(ts):6.2f}s  {min(ts) / base:.3f}x")
        if args.rounds:
            b = min(times["(b) 1 INFO per partition"]) / base
            c = min(times["(c) 1 filtered DEBUG per row"]) / base
            print(f"(b)/(a) = {b:.3f} (target <= 1.05) {'MET' if b <= 1.05 else 'MISSED'}")
            print(f"(c)/(a) = {c:.3f} (target <= 1.10) {'MET' if c <= 1.10 else 'MISSED'}")
        if args.rss_partitions:
            import psutil

            def one(rows):
                proxy.info("partition", pad="p" * 200)
                yield from rows

            sc = spark.sparkContext
            sc.parallelize(range(100), 100).mapPartitions(one).count()
            proc = psutil.Process()
            before = proc.memory_info().rss
            t = time.perf_counter()
            sc.parallelize(range(args.rss_partitions), args.rss_partitions).mapPartitions(
                one
            ).count()
            after = proc.memory_info().rss
            print(
                f"{args.rss_partitions:,}-partition job ({time.perf_counter() - t:.0f}s): "
                f"driver RSS {before / 2**20:.0f} MB -> {after / 2**20:.0f} MB "
                f"({(after - before) / 2**20:+.1f} MB)"
            )
        log.close()
    finally:
        spark.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
