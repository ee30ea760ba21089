"""Listener overhead: a 20,000-task job with and without the LakeTrace listener, in one run.

Runs ``spark.range(0, 2e7, 1, 20000).count()`` on local[2] several times, without and
with the listener in ABBA order, and reports the wall-time overhead (best-of and median of
paired rounds; target <= 3%), the events Spark's listener bus dropped (its own
``numDroppedEvents`` counters; target 0), and how long after the job the listener had
seen its end (target: the listener-bus backlog drains within 5 s).

Then (``--part spark_logs``) the cost of capturing Spark's own driver log: the listener
without capture, with ``spark_logs="WARN"`` and with ``"INFO"``, side by side in ABCCBA
order, with Spark's root logger at INFO (Spark's default for applications; the console
keeps WARN so the terminal is not part of the measurement); targets: WARN <= 3%, INFO
<= 10%, events the appender dropped at WARN: 0.

    .venv/bin/python benchmarks/bench_listener.py [--tasks 20000] [--rounds 6]
        [--part all|listener|spark_logs]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--part", choices=("all", "listener", "spark_logs"), default="all")
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
            spark, log, path=os.path.join(tmp, "t"), flush_interval="1 h", spark_logs=None
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
    if args.part in ("all", "listener"):
        _listener_part(args, job, with_listener, dropped)
    if args.part in ("all", "spark_logs"):
        _spark_logs_part(args, spark, log, tmp, job)
    spark.stop()


def _listener_part(args: argparse.Namespace, job: Any, with_listener: Any, dropped: Any) -> None:
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


def _root_at_info(spark: Any) -> None:
    """Spark's root logger at INFO, its console appender kept at WARN."""
    jvm = spark.sparkContext._jvm
    level = jvm.org.apache.logging.log4j.Level
    ctx = jvm.org.apache.logging.log4j.LogManager.getContext(
        spark.sparkContext._jsc.sc().getClass().getClassLoader(), False
    )
    root = ctx.getConfiguration().getRootLogger()
    for name in list(root.getAppenders().keySet().toArray()):
        appender = root.getAppenders().get(name)
        root.removeAppender(name)
        root.addAppender(appender, level.WARN, None)
    root.setLevel(level.INFO)
    ctx.updateLoggers()


def _spark_logs_part(args: argparse.Namespace, spark: Any, log: Any, tmp: str, job: Any) -> None:
    import spark_listener

    _root_at_info(spark)
    arms = (None, "WARN", "INFO")
    times: dict[Any, list[float]] = {a: [] for a in arms}
    counts: dict[Any, dict[str, int]] = {a: {} for a in arms}

    def run(arm: Any) -> float:
        handle = spark_listener.install(
            spark, log, path=os.path.join(tmp, "t"), flush_interval="1 h", spark_logs=arm
        )
        assert handle.flusher is not None
        handle.flusher.last = time.monotonic()  # no automatic flush inside the measurement
        took = job()
        if handle.spark_logs is not None:
            handle.spark_logs.seal()
            for k, v in handle.spark_logs.counts().items():
                counts[arm][k] = counts[arm].get(k, 0) + v
        handle.uninstall()
        return took

    job()  # warm up at INFO
    for r in range(args.rounds):
        order = arms if r % 2 == 0 else arms[::-1]  # ABC CBA
        got = {a: run(a) for a in order}
        for a in arms:
            times[a].append(got[a])
        print(
            f"round {r + 1}: off {got[None]:.2f}s, WARN {got['WARN']:.2f}s "
            f"({(got['WARN'] / got[None] - 1) * 100:+.1f}%), INFO {got['INFO']:.2f}s "
            f"({(got['INFO'] / got[None] - 1) * 100:+.1f}%)"
        )
    for arm, target in (("WARN", 0.03), ("INFO", 0.10)):
        best = min(times[arm]) / min(times[None]) - 1
        med = statistics.median(b / a for a, b in zip(times[None], times[arm], strict=True)) - 1
        c = counts[arm]
        print(
            f"spark_logs={arm!r} on the {args.tasks:,}-task job (root logger at INFO): overhead "
            f"best-of {best * 100:+.1f}%, median of paired rounds {med * 100:+.1f}% (target <= "
            f"{target * 100:.0f}%) {'MET' if max(best, med) <= target else 'MISSED'}; records "
            f"written {c.get('written', 0):,}, rate-limited {c.get('suppressed', 0):,}, dropped "
            f"{c.get('dropped', 0):,}"
            + (
                f" (target 0) {'MET' if c.get('dropped', 0) == 0 else 'MISSED'}"
                if arm == "WARN"
                else ""
            )
        )


if __name__ == "__main__":
    main()
