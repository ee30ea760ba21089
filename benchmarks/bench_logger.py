"""Core logger throughput: LakeTrace spool sink vs structlog, stdlib logging and loguru.

Runs every library in one process, side by side, interleaved over several rounds (the
machine is shared and noisy), and prints msg/s per library and ratios against structlog.

    .venv/bin/python benchmarks/bench_logger.py [--n 100000] [--rounds 3] [--json stdlib]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def bench_laketrace(tmp: str, n: int, filtered: bool = False) -> float:
    import laketrace
    from laketrace.log import registry as _registry

    log_dir = os.path.join(tmp, f"lt-{time.perf_counter_ns()}")
    log = laketrace.get_logger(
        f"bench{time.perf_counter_ns()}", {"log_dir": log_dir, "stdout": False}
    )
    b = log.bind(user="alice")
    call = b.debug if filtered else b.info
    t0 = time.perf_counter()
    for i in range(n):
        call("processed item", item=i)
    dt = time.perf_counter() - t0
    log.close()
    _registry.forget(log.name)
    return dt


def bench_structlog(tmp: str, n: int, use_orjson: bool, filtered: bool = False) -> float:
    import structlog

    path = os.path.join(tmp, f"structlog-{time.perf_counter_ns()}.log")
    fh = open(path, "wb") if use_orjson else open(path, "w")
    if use_orjson:
        import orjson

        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory = structlog.BytesLoggerFactory(fh)
    else:
        renderer = structlog.processors.JSONRenderer()
        factory = structlog.WriteLoggerFactory(fh)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    b = structlog.get_logger().bind(user="alice")
    call = b.debug if filtered else b.info
    t0 = time.perf_counter()
    for i in range(n):
        call("processed item", item=i)
    dt = time.perf_counter() - t0
    fh.close()
    structlog.reset_defaults()
    return dt


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "ts": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "msg": record.getMessage(),
                "user": getattr(record, "user", None),
                "item": getattr(record, "item", None),
            }
        )


def bench_stdlib(tmp: str, n: int) -> float:
    path = os.path.join(tmp, f"stdlib-{time.perf_counter_ns()}.log")
    lg = logging.getLogger(f"bench-{time.perf_counter_ns()}")
    lg.propagate = False
    lg.setLevel(logging.INFO)
    h = logging.FileHandler(path)
    h.setFormatter(_JsonFormatter())
    lg.addHandler(h)
    adapter = logging.LoggerAdapter(lg, {"user": "alice"})
    t0 = time.perf_counter()
    for i in range(n):
        adapter.info("processed item", extra={"user": "alice", "item": i})
    dt = time.perf_counter() - t0
    h.close()
    return dt


def bench_loguru(tmp: str, n: int) -> float:
    from loguru import logger

    path = os.path.join(tmp, f"loguru-{time.perf_counter_ns()}.log")
    logger.remove()
    hid = logger.add(path, serialize=True, level="INFO")
    b = logger.bind(user="alice")
    t0 = time.perf_counter()
    for i in range(n):
        b.info("processed item", item=i)
    dt = time.perf_counter() - t0
    logger.remove(hid)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--json",
        choices=["auto", "stdlib"],
        default="auto",
        help="stdlib: force LakeTrace and structlog onto the stdlib json module",
    )
    args = ap.parse_args()
    from laketrace.record import encoding as _encoding

    if args.json == "stdlib":
        _encoding.set_backend("json")
    use_orjson = _encoding.BACKEND == "orjson"
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-")
    runs: dict[str, list[float]] = {}
    cases = {
        "laketrace": lambda: bench_laketrace(tmp, args.n),
        f"structlog ({'orjson' if use_orjson else 'json'})": lambda: bench_structlog(
            tmp, args.n, use_orjson
        ),
        "stdlib logging + json": lambda: bench_stdlib(tmp, args.n),
        "loguru serialize": lambda: bench_loguru(tmp, args.n),
        "laketrace filtered": lambda: bench_laketrace(tmp, args.n, filtered=True),
        "structlog filtered": lambda: bench_structlog(tmp, args.n, use_orjson, filtered=True),
    }
    try:
        for _ in range(args.rounds):
            for name, fn in cases.items():
                runs.setdefault(name, []).append(fn())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best = {name: min(v) for name, v in runs.items()}
    print(
        f"JSON backend: {_encoding.BACKEND}; {args.n:,} records x {args.rounds} rounds (best round)"
    )
    print(f"{'library':32} {'msg/s':>12} {'us/call':>9}")
    for name, dt in best.items():
        print(f"{name:32} {args.n / dt:12,.0f} {dt / args.n * 1e6:9.2f}")
    sl = next(k for k in best if k.startswith("structlog ("))
    ratio = best[sl] / best["laketrace"]
    fratio = best["laketrace filtered"] / best["structlog filtered"]
    target = 2.0 if use_orjson else 1.3
    print(
        f"\nlaketrace / structlog throughput: {ratio:.2f}x (target >= {target}x) "
        f"{'MET' if ratio >= target else 'MISSED'}"
    )
    print(
        f"laketrace / structlog filtered-call cost: {fratio:.2f}x (target <= 1.2x) "
        f"{'MET' if fratio <= 1.2 else 'MISSED'}"
    )
    for name in ("stdlib logging + json", "loguru serialize"):
        print(f"laketrace / {name} throughput: {best[name] / best['laketrace']:.2f}x")
    print(
        "spread (max/min over rounds): "
        + ", ".join(f"{k}={max(v) / min(v):.2f}" for k, v in runs.items())
    )


if __name__ == "__main__":
    main()
