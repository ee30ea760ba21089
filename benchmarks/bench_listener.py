"""Listener overhead: a 20,000-task job with and without the LakeTrace listener, in one run.

Runs ``spark.range(0, 2e7, 1, 20000).count()`` on local[2] several times, without and
with the listener in ABBA order, and reports the wall-time overhead (best-of and median of
paired rounds; target <= 3%), the events Spark's listener bus dropped (its own
``numDroppedEvents`` counters; target 0), and how long after the job the listener had
seen its end (target: the listener-bus backlog drains within 5 s).

    .venv/bin/python benchmarks/bench_listener.py [--tasks 20000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument(
        "--driver-memory",
        default="4g",
        help="driver heap (default 4g): with Spark's default 1g, the status store of ~10 "
        "20,000-task jobs fills the heap and every later job runs ~80%% slower from GC",
    )
    args = ap.parse_args()
    import laketrace
    import spark_listener
    from laketrace.cli.spark_session import local_spark

    spark = local_spark(
        "bench-listener", master="local[2]", conf={"spark.driver.memory": args.driver_memory}
    )
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-listener-")
    log = laketrace.get_logger("bench.listener", {"log_dir": tmp, "stdout": False})
    n = args.tasks * 1000

    def job() -> float:
        t = time.perf_counter()
        spark.range(0, n, 1, args.tasks).count()
        return time.perf_counter() - t

    def dropped() -> int:
        """Events Spark dropped from any listener-bus queue so far (its own counters)."""
        bus = spark.sparkContext._jsc.sc().listenerBus()
        counters = bus.metrics().metricRegistry().getCounters()
        return sum(
            counters.get(k).getCount()
            for k in counters.keySet().toArray()
            if str(k).endswith("numDroppedEvents")
        )

    def with_listener() -> tuple[float, float, str]:
        handle = spark_listener.install(
            spark, log, path=os.path.join(tmp, "t"), flush_interval="1 h"
        )
        handle.flusher.last = time.monotonic()  # no automatic flush inside the measurement
        ended = handle.handler.jobs_ended
        took = job()
        done = time.perf_counter()
        # the backlog has drained once the listener has seen this job's end event
        while handle.handler.jobs_ended <= ended and time.perf_counter() - done < 60:
            time.sleep(0.005)
        drained = time.perf_counter() - done
        kind = handle.kind
        handle.uninstall()
        return took, drained, kind

    job()  # warm up
    without, with_, drain, ratios = [], [], [], []
    kind = ""
    for r in range(args.rounds):
        # ABBA order, so a drift of the machine's speed hits both sides alike
        if r % 2 == 0:
            a = job()
            b, d, kind = with_listener()
        else:
            b, d, kind = with_listener()
            a = job()
        without.append(a)
        with_.append(b)
        drain.append(d)
        ratios.append(b / a)
        print(f"round {r + 1}: without {a:.2f}s, with {b:.2f}s ({(b / a - 1) * 100:+.1f}%)")
    overhead = min(with_) / min(without) - 1
    median = statistics.median(ratios) - 1
    lost = dropped()
    print(f"listener: {kind}")
    print(
        f"{args.tasks:,}-task job: without listener {min(without):.2f}s, with listener "
        f"{min(with_):.2f}s -> overhead best-of {overhead * 100:+.1f}%, median of paired "
        f"rounds {median * 100:+.1f}% (target <= 3%) "
        f"{'MET' if max(overhead, median) <= 0.03 else 'MISSED'}"
    )
    print(
        f"listener backlog drained {max(drain):.2f}s after the job at worst (target <= 5 s) "
        f"{'MET' if max(drain) <= 5 else 'MISSED'}"
    )
    print(
        f"events dropped by Spark's listener bus (its numDroppedEvents counters): {lost} "
        f"(target 0) {'MET' if lost == 0 else 'MISSED'}"
    )
    spark.stop()


if __name__ == "__main__":
    main()
