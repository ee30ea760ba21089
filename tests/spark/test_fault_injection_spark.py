"""Fault injection, Spark writer: the same seeded trials as tests/flush/test_fault_injection.py
(writers SIGKILLed while logging, ledgers lost or corrupted between flushes), with each
flush run in the session's SparkSession and stopped at a random fault point by a hook that
raises (starting a JVM per flush would take minutes; a raise at a fault point leaves the
same state as a death there, since nothing between the points cleans up).

LAKETRACE_SPARK_FAULT_TRIALS (default 10) trials from seed LAKETRACE_FAULT_SEED + 1000.
"""

from __future__ import annotations

import os
from collections import Counter

from laketrace import flush_to_delta
from laketrace.flush import faults as flush_faults

from ..flush.fault_trials import Trial, check_exactly_once, context, run_trial

TRIALS = int(os.environ.get("LAKETRACE_SPARK_FAULT_TRIALS", "10"))
SEED = int(os.environ.get("LAKETRACE_FAULT_SEED", "12")) + 1000


class _Killed(BaseException):
    pass


def _flusher(spark, log_dir, target):
    def flush(fault: str) -> bool:
        point, _, nth = fault.partition("@")
        passes = Counter()

        def hook(p):
            passes[p] += 1
            if p == point and passes[p] == int(nth or 1):
                raise _Killed

        flush_faults.fault_hook = hook
        try:
            flush_to_delta(spark, log_dir=log_dir, path=target)
        except _Killed:
            return True
        finally:
            flush_faults.fault_hook = None
        return False

    return flush


def test_spark_random_kills_leave_every_record_exactly_once(spark, tmp_path):
    """Across seeded trials with the Spark writer, every acknowledged record is in table +
    quarantine exactly once, and nothing twice."""
    ctx = context()
    kills: Counter[str] = Counter()
    failures = []
    for seed in range(SEED, SEED + TRIALS):
        log_dir, target = str(tmp_path / f"s{seed}"), str(tmp_path / f"t{seed}")
        os.makedirs(log_dir)
        trial = Trial(seed, log_dir)
        run_trial(ctx, trial, _flusher(spark, log_dir, target))
        msgs = [r[0] for r in spark.read.format("delta").load(target).select("msg").collect()]
        q = target + "_quarantine"
        raw = []
        if os.path.isdir(q):
            raw = [r[0] for r in spark.read.format("delta").load(q).select("raw_line").collect()]
        problems = check_exactly_once(trial, msgs, raw)
        if problems:
            failures.append(f"seed {seed}: {problems[:5]}")
        kills.update(trial.flush_kills)
    print(f"\n{TRIALS} Spark trials; flush kills by point: {dict(kills)}")
    assert not failures, "\n".join(failures)
    assert sum(kills.values()) >= TRIALS // 2
