"""Core logger throughput: LakeTrace spool sink vs structlog, stdlib logging and loguru,
beside the floor of a minimal loop doing the same essential work.

Runs every case in one process, side by side, interleaved over several rounds (the
machine is shared and noisy), and prints the median msg/s per case and ratios against
structlog (+orjson, ``BytesLoggerFactory``) and against the floors:

* ``floor mmap``: build a 10-key dict, encode it, append a pre-encoded static tail and
  copy the line into a ``posix_fallocate``d ``MAP_SHARED`` file (no syscall per record);
* ``floor os.write``: the same with one ``os.write`` per record.

    .venv/bin/python benchmarks/bench_logger.py [--n 50000] [--rounds 5] [--json stdlib]
"""

from __future__ import annotations

import argparse
import json
import logging
import mmap
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

#: the clock of every case: wall time, or this process's CPU time (``--clock cpu``), which a
#: shared machine's scheduling disturbs less
_now = time.perf_counter


def bench_laketrace(tmp: str, n: int, filtered: bool = False, writer: str = "") -> float:
    import laketrace
    from laketrace.log import registry as _registry
    from laketrace.sinks.mmap_segment import WRITER_ENV

    before = os.environ.get(WRITER_ENV)
    if writer:  # read when the spool handler is created
        os.environ[WRITER_ENV] = writer

    log_dir = os.path.join(tmp, f"lt-{time.perf_counter_ns()}")
    log = laketrace.get_logger(
        f"bench{time.perf_counter_ns()}", {"log_dir": log_dir, "stdout": False}
    )
    if before is None:
        os.environ.pop(WRITER_ENV, None)
    else:
        os.environ[WRITER_ENV] = before
    b = log.bind(user="alice")
    call = b.debug if filtered else b.info
    t0 = _now()
    for i in range(n):
        call("processed item", item=i)
    dt = _now() - t0
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
    t0 = _now()
    for i in range(n):
        call("processed item", item=i)
    dt = _now() - t0
    fh.close()
    structlog.reset_defaults()
    return dt


def bench_floor(tmp: str, n: int, *, use_mmap: bool) -> float:
    """The minimal loop: a 10-key dict, one encode, a static tail, one copy or write."""
    from laketrace.record import encoding as _encoding

    dumps = _encoding.fast_dumps
    path = os.path.join(tmp, f"floor-{time.perf_counter_ns()}.jsonl")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    tail = (
        b',"logger":"bench","exception":null,"traceback":null,"source":"driver",'
        b'"run_id":"local-20260101T000000Z-0123abcd","host":"host","pid":1234,'
        b'"runtime":"local","app_id":null,"app_name":null,"job_id":null,"stage_id":null,'
        b'"partition_id":null,"task_attempt":null,"job_group":null,"notebook":null}\n'
    )
    view = None
    if use_mmap:
        size = n * 600
        os.posix_fallocate(fd, 0, size)
        view = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    put = view.write if view is not None else (lambda data: os.write(fd, data))
    clock = time.time
    t0 = _now()
    for i in range(n):
        d = {
            "ts": clock(),
            "level": "INFO",
            "level_no": 20,
            "msg": "processed item",
            "context": {"user": "alice", "item": str(i)},
            "record_id": f"0123abcd{i:x}",
            "thread_name": "MainThread",
            "module": "__main__",
            "function": "bench_floor",
            "line": 42,
        }
        put(dumps(d)[:-1] + tail)
    dt = _now() - t0
    if view is not None:
        view.close()
    os.close(fd)
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
    t0 = _now()
    for i in range(n):
        adapter.info("processed item", extra={"user": "alice", "item": i})
    dt = _now() - t0
    h.close()
    return dt


def bench_loguru(tmp: str, n: int) -> float:
    from loguru import logger

    path = os.path.join(tmp, f"loguru-{time.perf_counter_ns()}.log")
    logger.remove()
    hid = logger.add(path, serialize=True, level="INFO")
    b = logger.bind(user="alice")
    t0 = _now()
    for i in range(n):
        b.info("processed item", item=i)
    dt = _now() - t0
    logger.remove(hid)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--json",
        choices=["auto", "stdlib"],
        default="auto",
        help="stdlib: force LakeTrace, the floors and structlog onto the stdlib json module",
    )
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: time each case with time.process_time (user + system CPU of this process)",
    )
    ap.add_argument("--peers", action="store_true", help="also run stdlib logging and loguru")
    args = ap.parse_args()
    global _now
    if args.clock == "cpu":
        _now = time.process_time
    from laketrace.record import encoding as _encoding
    from laketrace.sinks.mmap_segment import mmap_unavailable

    if args.json == "stdlib":
        _encoding.set_backend("json")
    use_orjson = _encoding.BACKEND == "orjson"
    tmp = tempfile.mkdtemp(prefix="laketrace-bench-")
    runs: dict[str, list[float]] = {}
    sl = f"structlog ({'orjson, BytesLogger' if use_orjson else 'json'})"
    cases = {
        "floor mmap": lambda: bench_floor(tmp, args.n, use_mmap=True),
        "floor os.write": lambda: bench_floor(tmp, args.n, use_mmap=False),
        "laketrace": lambda: bench_laketrace(tmp, args.n),
        "laketrace, write() path": lambda: bench_laketrace(tmp, args.n, writer="write"),
        sl: lambda: bench_structlog(tmp, args.n, use_orjson),
        # filtered calls are ~50x cheaper: 10x as many, so timer noise stays small
        "laketrace filtered": lambda: bench_laketrace(tmp, args.n * 10, filtered=True) / 10,
        "structlog filtered": lambda: (
            bench_structlog(tmp, args.n * 10, use_orjson, filtered=True) / 10
        ),
    }
    if args.peers:
        cases["stdlib logging + json"] = lambda: bench_stdlib(tmp, args.n)
        cases["loguru serialize"] = lambda: bench_loguru(tmp, args.n)
    try:
        for _ in range(args.rounds):
            for name, fn in cases.items():
                runs.setdefault(name, []).append(fn())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {name: statistics.median(v) for name, v in runs.items()}
    writer = mmap_unavailable() or "mmap segments"
    print(
        f"JSON backend: {_encoding.BACKEND}; spool writer: {writer}; {args.n:,} records x "
        f"{args.rounds} interleaved rounds (median round, {args.clock} clock)"
    )
    print(f"{'case':34} {'msg/s':>12} {'us/call':>9} {'vs structlog':>13}")
    for name, dt in med.items():
        print(f"{name:34} {args.n / dt:12,.0f} {dt / args.n * 1e6:9.2f} {med[sl] / dt:12.2f}x")
    ratio = med[sl] / med["laketrace"]
    fratio = med["laketrace filtered"] / med["structlog filtered"]
    target = 2.0 if use_orjson else 1.3
    print(
        f"\nlaketrace / structlog throughput: {ratio:.2f}x (target >= {target}x) "
        f"{'MET' if ratio >= target else 'MISSED'}"
    )
    eff = med["floor mmap"] / med["laketrace"]
    print(
        f"laketrace / floor mmap throughput: {eff:.0%} (target >= 70%) "
        f"{'MET' if eff >= 0.7 else 'MISSED'}"
    )
    print(f"laketrace / floor os.write throughput: {med['floor os.write'] / med['laketrace']:.0%}")
    print(
        f"laketrace / structlog filtered-call cost: {fratio:.2f}x (target <= 1.2x) "
        f"{'MET' if fratio <= 1.2 else 'MISSED'}"
    )
    for name in ("stdlib logging + json", "loguru serialize"):
        if name in med:
            print(f"laketrace / {name} throughput: {med[name] / med['laketrace']:.2f}x")
    print(
        "spread (max/min over rounds): "
        + ", ".join(f"{k}={max(v) / min(v):.2f}" for k, v in runs.items())
    )


if __name__ == "__main__":
    main()
