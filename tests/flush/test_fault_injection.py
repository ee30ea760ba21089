"""Fault injection, delta-rs writer: writers SIGKILLed while logging (memory-mapped and
write() spool writers, chosen per process), flushes killed at random fault points (a real
process death, ``os._exit``), ledgers lost or corrupted between flushes; every record ends
up in the table or the quarantine table exactly once.

Seeded and bounded: LAKETRACE_FAULT_TRIALS (default 40) trials from seed
LAKETRACE_FAULT_SEED (default 12); a failure names its seed, rerun it alone with
``LAKETRACE_FAULT_SEED=<seed> LAKETRACE_FAULT_TRIALS=1``.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from laketrace.testing import read_delta

from .fault_trials import Trial, check_exactly_once, context, exit_code, flush_child, run_trial

TRIALS = int(os.environ.get("LAKETRACE_FAULT_TRIALS", "40"))
SEED = int(os.environ.get("LAKETRACE_FAULT_SEED", "12"))


@pytest.mark.slow
def test_random_kills_leave_every_record_exactly_once(tmp_path):
    """Across seeded trials of writer kills, flush kills and ledger damage, every
    acknowledged record is in table + quarantine exactly once, and nothing twice."""
    ctx = context()
    kills: Counter[str] = Counter()
    damage: Counter[str] = Counter()
    spool_writers: Counter[str] = Counter()
    failures = []
    for seed in range(SEED, SEED + TRIALS):
        log_dir, target = str(tmp_path / f"s{seed}"), str(tmp_path / f"t{seed}")
        os.makedirs(log_dir)
        trial = Trial(seed, log_dir)

        def flush(fault: str, log_dir: str = log_dir, target: str = target) -> bool:
            proc = ctx.Process(target=flush_child, args=(log_dir, target, fault))
            proc.start()
            proc.join()
            return exit_code(proc)

        run_trial(ctx, trial, flush)
        msgs = read_delta(target, ["msg"]).column("msg").to_pylist()
        q = target + "_quarantine"
        raw = read_delta(q, ["raw_line"]).column("raw_line").to_pylist() if os.path.isdir(q) else []
        problems = check_exactly_once(trial, msgs, raw)
        if problems:
            failures.append(f"seed {seed}: {problems[:5]}")
        kills.update(trial.flush_kills)
        damage.update(trial.damage)
        spool_writers.update(trial.spool_writers)
    print(f"\n{TRIALS} delta-rs trials; flush kills by point: {dict(kills)}")
    print(f"ledger damage between flushes: {dict(damage)}")
    print(f"logging processes killed, by spool writer: {dict(spool_writers)}")
    assert not failures, "\n".join(failures)
    assert sum(kills.values()) >= TRIALS // 2  # the trials did kill flushes
    if TRIALS >= 10:  # both spool writers (memory-mapped and write()) were killed
        assert spool_writers["mmap"] and spool_writers["write"]
