"""Spool lifecycle costs, side by side in one run (ratios, not absolute numbers):

1. size rotation every 1 MB vs no rotation, same workload (target overhead <= 3%);
2. enqueue=True caller cost per call (median, p99) vs the synchronous call
   (target median <= 40% of sync) and end-to-end throughput incl. drain (target >= sync);
3. caller stalls while a ~100 MB sealed file is gzip-compressed in the background
   (target p99 <= 5 ms).

    .venv/bin/python benchmarks/bench_lifecycle.py [--n 100000] [--rounds 3] [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace
from laketrace.log import registry as _registry
from laketrace.sinks.lifecycle import maintenance


def _logger_for(tmp: str, **config):
    name = f"bench{time.perf_counter_ns()}"
    cfg = {"log_dir": os.path.join(tmp, name), "stdout": False, **config}
    return laketrace.get_logger(name, cfg)


def _done(log) -> None:
    log.close()
    _registry.forget(log.name)


def throughput(tmp: str, n: int, **config) -> float:
    """Seconds to log n records and close (drain) the logger."""
    log = _logger_for(tmp, **config).bind(user="alice")
    t0 = time.perf_counter()
    for i in range(n):
        log.info("processed item", item=i)
    log.close()
    dt = time.perf_counter() - t0
    _registry.forget(log.name)
    return dt


def per_call(tmp: str, n: int, **config) -> list[int]:
    """Nanoseconds per call, measured around each call (drain excluded)."""
    log = _logger_for(tmp, **config).bind(user="alice")
    out = [0] * n
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        log.info("processed item", item=i)
        out[i] = clock() - t0
    log.close()
    _registry.forget(log.name)
    return out


def pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def compression_stall(tmp: str, mb: int) -> tuple[list[int], float]:
    """Per-call latencies while a big file is compressed by the maintenance thread."""
    log = _logger_for(tmp, compression="gz", rotation=f"{mb} MB")
    pad = "p" * 900
    written = 0
    i = 0
    while written < mb * 1_000_000:  # fill one file to just below the rotation size
        log.info("filler {}", i, pad=pad)
        written += 1_100
        i += 1
    lat = []
    clock = time.perf_counter_ns
    t_start = time.perf_counter()
    # the next calls rotate: the sealed ~100 MB file goes to the maintenance thread; keep
    # logging (and timing every call) until the compression job has finished
    compressed = threading.Event()
    rotated = False
    j = 0
    while not compressed.is_set():
        t0 = clock()
        log.info("during compression {}", j, pad=pad)
        lat.append(clock() - t0)
        j += 1
        if not rotated and log._core.spool.file.size < 10_000:
            rotated = True
            maintenance.submit(compressed.set)
    elapsed = time.perf_counter() - t_start
    _done(log)
    maintenance.drain(600)
    return lat, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-life-")
    try:
        plain, rot, sync_t, enq_t = [], [], [], []
        sync_calls: list[int] = []
        enq_calls: list[int] = []
        for _ in range(args.rounds):
            plain.append(throughput(tmp, args.n))
            rot.append(throughput(tmp, args.n, rotation="1 MB"))
            sync_t.append(throughput(tmp, args.n))
            enq_t.append(throughput(tmp, args.n, enqueue=True))
            sync_calls += per_call(tmp, args.n)
            enq_calls += per_call(tmp, args.n, enqueue=True)
        overhead = min(rot) / min(plain) - 1
        print(
            f"1. rotation every 1 MB vs none: {args.n / min(rot):,.0f} vs "
            f"{args.n / min(plain):,.0f} msg/s -> overhead {overhead * 100:+.1f}% "
            f"(target <= 3%) {'MET' if overhead <= 0.03 else 'MISSED'}"
        )
        sm, sp = pct(sync_calls, 0.5), pct(sync_calls, 0.99)
        em, ep = pct(enq_calls, 0.5), pct(enq_calls, 0.99)
        ratio = em / sm
        print(
            f"2. caller cost per call: sync median {sm:.2f} us p99 {sp:.2f} us; "
            f"enqueue median {em:.2f} us p99 {ep:.2f} us -> median ratio {ratio:.2f} "
            f"(target <= 0.40) {'MET' if ratio <= 0.40 else 'MISSED'}"
        )
        tput = min(sync_t) / min(enq_t)
        print(
            f"   end-to-end incl. drain: enqueue {args.n / min(enq_t):,.0f} msg/s vs sync "
            f"{args.n / min(sync_t):,.0f} msg/s -> {tput:.2f}x (target >= 1.0) "
            f"{'MET' if tput >= 1.0 else 'MISSED'}"
        )
        lat, elapsed = compression_stall(tmp, args.mb)
        p99 = pct(lat, 0.99) / 1000.0
        worst = max(lat) / 1e6
        print(
            f"3. while gzip-compressing a {args.mb} MB sealed file ({elapsed:.1f} s): caller "
            f"p99 {p99:.3f} ms, max {worst:.1f} ms over {len(lat):,} calls (target p99 <= 5 ms) "
            f"{'MET' if p99 <= 5 else 'MISSED'}"
        )
        print(f"   median {statistics.median(lat) / 1000:.2f} us")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
