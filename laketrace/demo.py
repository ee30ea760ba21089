"""``laketrace demo``: log a small pipeline into the spool and show the result."""

from __future__ import annotations

import argparse
import os
import random

from . import get_logger


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo job; returns a process exit code."""
    workdir = os.path.abspath(args.workdir)
    log_dir = os.path.join(workdir, "lakehouse", "_spool")
    log = get_logger(
        "laketrace.demo",
        {"log_dir": log_dir, "level": "DEBUG", "rotation": "64 KB", "stdout": False},
    )
    rng = random.Random(7)
    log.info("demo starting", workdir=workdir)
    rows = 0
    for batch in range(5):
        with log.contextualize(step="transform", batch=batch):
            n = rng.randint(100, 1000)
            rows += n
            log.debug("transformed {} rows", n)
            if batch == 3:
                try:
                    raise ValueError(f"bad record in batch {batch}")
                except ValueError:
                    log.exception("batch {} had a bad record; skipped it", batch)
    log.success("demo finished", rows=rows)
    log.close()
    print(f"LakeTrace demo: spool written to {log_dir}\n")
    print("Last records (log.tail(10)):")
    log.tail(10)
    return 0
