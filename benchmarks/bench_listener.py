"""Listener overhead: a 20,000-task job with and without the LakeTrace listener, in one run.

Runs ``spark.range(0, 2e7, 1, 20000).count()`` on local[2] several times, alternating
without/with the listener, and reports the wall-time overhead (target <= 3%), whether
Spark logged "Dropping event from queue" (target: never), and how long after the job
the listener had seen its end (target: the listener-bus backlog drains within 5 s).

    .venv/bin/python benchmarks/bench_listener.py [--tasks 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import laketrace
    import spark_listener
    from laketrace.spark_session import local_spark

    spark = local_spark("bench-listener", master="local[2]")
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-listener-")
    log = laketrace.get_logger("bench.listener", {"log_dir": tmp, "stdout": False})
    n = args.tasks * 1000

    def job() -> float:
        t = time.perf_counter()
        spark.range(0, n, 1, args.tasks).count()
        return time.perf_counter() - t

    job()  # warm up
    without, with_, drain = [], [], []
    for _ in range(args.rounds):
        without.append(job())
        handle = spark_listener.install(
            spark, log, path=os.path.join(tmp, "t"), flush_interval="1 h"
        )
        handle.flusher.last = time.monotonic()  # no automatic flush inside the measurement
        ended = handle.handler.jobs_ended
        with_.append(job())
        done = time.perf_counter()
        # the backlog has drained once the listener has seen this job's end event
        while handle.handler.jobs_ended <= ended and time.perf_counter() - done < 60:
            time.sleep(0.005)
        drain.append(time.perf_counter() - done)
        kind = handle.kind
        handle.uninstall()
    overhead = min(with_) / min(without) - 1
    print(f"listener: {kind}")
    print(
        f"{args.tasks:,}-task job: without listener {min(without):.2f}s, with listener "
        f"{min(with_):.2f}s -> overhead {overhead * 100:+.1f}% (target <= 3%) "
        f"{'MET' if overhead <= 0.03 else 'MISSED'}"
    )
    print(
        f"listener backlog drained {max(drain):.2f}s after the job at worst (target <= 5 s) "
        f"{'MET' if max(drain) <= 5 else 'MISSED'}"
    )
    print("check the Spark log above for 'Dropping event from queue' (printed by Spark)")
    spark.stop()


if __name__ == "__main__":
    main()
