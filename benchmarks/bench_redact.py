"""Redaction cost: the built-in patterns over 1 MB of ordinary text and over hostile inputs
built to make regular expressions backtrack, plus records per second with redact on and off.

Target: ordinary text costs a few ms per MB; no hostile input takes more than ~1 s per MB
(each built-in is tried only where its trigger literal occurs, never at every position).

    .venv/bin/python benchmarks/bench_redact.py [--mb 1.0] [--records 50000]
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
from laketrace.log.redact import compile_redactor


def inputs(size: int) -> dict[str, str]:
    """Texts of about ``size`` characters: one ordinary, the rest hostile."""

    def rep(unit: str) -> str:
        return unit * max(1, size // len(unit))

    return {
        "ordinary prose": rep("the quick brown fox loaded 3 rows into sales; "),
        "prose with secrets": rep("loaded rows password=hunter2 via https://u:pw@h/x ok; "),
        "eyJa- (jwt starts)": rep("eyJa-"),
        "a.a.a. (word bounds)": rep("a."),
        "password=password=": rep("password="),
        "a://b: (url starts)": rep("a://b:"),
        "BEGIN without END": rep("-----BEGIN PRIVATE KEY-----"),
        "Basic + long base64": "Basic " + rep("QUJD") + "!",
        "name + spaces": "password" + " " * size,
        "&sig= run": rep("&sig="),
        "https://u:u:u: run": "https://" + rep("u:"),
        "Authorization: run": rep("Authorization: "),
        'escaped \\"password\\"': rep('{\\"password\\": \\"x\\"} '),
    }


def per_record(records: int, redact: bool) -> float:
    log_dir = tempfile.mkdtemp(prefix="lt-bench-redact-")
    try:
        log = laketrace.get_logger(
            f"bench.redact.{redact}", {"log_dir": log_dir, "stdout": False, "redact": redact}
        )
        start = time.perf_counter()
        for i in range(records):
            log.info("loaded {} rows into {table}", i, table="sales", user="bob")
        log.close()
        return records / (time.perf_counter() - start)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0)
    ap.add_argument("--records", type=int, default=50_000)
    args = ap.parse_args()
    redact = compile_redactor(True)
    assert redact is not None
    size = int(args.mb * 1_000_000)
    for name, text in inputs(size).items():
        start = time.perf_counter()
        redact(text)
        ms = (time.perf_counter() - start) * 1000
        print(f"{name:24s} {len(text) / 1e6:5.2f} MB {ms:9.1f} ms")
    for on in (False, True):
        rate = per_record(args.records, on)
        print(f"records/s with redact={on!s:5s}: {rate:12,.0f}")


if __name__ == "__main__":
    main()
