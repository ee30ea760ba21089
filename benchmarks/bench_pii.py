"""PII masking cost per record: the same log calls with ``redact=False`` and with every PII
pattern on (``mask_pii: True``, i.e. ``redact=["pii"]``), side by side.

Two call shapes: an ordinary record (no PII in it: the common case, where every pattern is
rejected by a cheap pre-check) and a record whose message and fields hold five PII items
(two e-mail addresses, an IP address, a card number and a phone number). Rounds alternate
between the configurations and the best round of each counts, so a busy machine disturbs
all alike; ``--timer cpu`` counts this process's CPU time instead of wall time (steadier on
a shared machine). Target: PII on costs at most 2x.

    .venv/bin/python benchmarks/bench_pii.py [--records 20000] [--rounds 5] [--timer cpu]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace
from laketrace.log import registry

CONFIGS: dict[str, dict[str, Any]] = {
    "redact=False": {"redact": False},
    # what mask_pii=True turns on; the 1.x key itself also brings 1.x's sanitize_messages
    "redact=['pii']": {"redact": ["pii"]},
    "redact=True + pii": {"redact": ["builtin", "pii"]},
}


def ordinary(log: Any, i: int) -> None:
    log.info("loaded {} rows into {table}", i, table="sales", step="load", user="bob")


def with_pii(log: Any, i: int) -> None:
    log.info(
        "login of john.doe@example.com from 10.20.30.40 paid with 4242 4242 4242 4242",
        attempt=i,
        contact="jane@example.org",
        phone="+44 20 7946 0958",
    )


def run(
    config: dict[str, Any],
    call: Callable[[Any, int], None],
    records: int,
    timer: Callable[[], float] = time.perf_counter,
) -> float:
    """Microseconds per record for ``records`` calls (spool only, as in production)."""
    log_dir = tempfile.mkdtemp(prefix="lt-bench-pii-")
    name = f"bench.pii.{len(os.listdir(tempfile.gettempdir()))}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            log = laketrace.get_logger(name, {"log_dir": log_dir, "stdout": False, **config})
        start = timer()
        for i in range(records):
            call(log, i)
        log.close()
        return (timer() - start) / records * 1e6
    finally:
        registry.forget(name)
        shutil.rmtree(log_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timer", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    timer = time.process_time if args.timer == "cpu" else time.perf_counter
    for label, call in (("ordinary record", ordinary), ("record with PII", with_pii)):
        best = {name: float("inf") for name in CONFIGS}
        for _ in range(args.rounds):
            for name, config in CONFIGS.items():
                best[name] = min(best[name], run(config, call, args.records, timer))
        base = best["redact=False"]
        print(f"{label}:")
        for name, us in best.items():
            print(f"  {name:18s} {us:7.2f} us/record  {us / base:5.2f}x")


if __name__ == "__main__":
    main()
