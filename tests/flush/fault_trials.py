"""Seeded fault-injection trials: writers killed with SIGKILL while logging, flushes killed
at random fault points, ledgers deleted, emptied, corrupted or rolled back between
flushes; then every record must be in the table or the quarantine table exactly once.

Used by tests/flush/test_fault_injection.py (delta-rs: each flush runs in a child process
that dies with ``os._exit`` at the fault point) and tests/spark/test_fault_injection_spark.py
(Spark: the flush runs in the test's SparkSession and the fault hook raises instead).
Processes are forked from a forkserver that has LakeTrace imported, so a trial costs
milliseconds of process start-up, not seconds.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from laketrace.flush.faults import EXIT_CODE, POINTS
from laketrace.spool.ledger import manifest_path
from laketrace.spool.names import INTERNAL_DIR

LEDGER_DAMAGE = (
    "none",
    "delete",
    "empty",
    "delete_internal_dir",
    "garbage_line",
    "flip_byte",
    "truncate_tail",
    "restore_old",
)
_MSG = re.compile(r'"msg":"((?:w|x)\d+-\d+-\d+)"')


def context() -> multiprocessing.context.BaseContext:
    """A forkserver context with LakeTrace and the writers preloaded."""
    ctx = multiprocessing.get_context("forkserver")
    # each child re-runs the parent's __main__ (pytest's, under pytest): have it loaded
    main = getattr(sys.modules["__main__"].__spec__, "name", None)
    ctx.set_forkserver_preload(
        [
            *([main.rpartition(".")[0]] if main and "." in main else []),
            "laketrace",
            "laketrace.flush.run",
            "laketrace.flush.delta_rs",
            "tests.flush.fault_trials",
            "deltalake",
            "duckdb",
            "pyarrow.compute",
        ]
    )
    return ctx


def writer_child(
    log_dir: str, tag: str, compression: str | None, conn: object, spool_writer: str = "mmap"
) -> None:
    """Log ``<tag>-<i>`` records forever, acknowledging each once ``log.info`` returned;
    ``spool_writer`` is the spool writer (``mmap``, the default, or ``write``)."""
    os.environ["LAKETRACE_SPOOL_WRITER"] = spool_writer
    import laketrace

    config = {"log_dir": log_dir, "stdout": False, "rotation": "8 KB"}
    if compression:
        config["compression"] = compression
    log = laketrace.get_logger(f"trial.{tag}", config)
    for i in range(100_000):
        log.info(f"{tag}-{i}", i=i)
        conn.send(i)  # type: ignore[attr-defined]


def flush_child(log_dir: str, target: str, fault: str) -> None:
    """One delta-rs flush that dies at ``fault`` (``point@n``) if it gets there."""
    from laketrace import flush_to_delta

    os.environ["LAKETRACE_FAULT"] = fault
    flush_to_delta(log_dir=log_dir, path=target)


@dataclass
class Trial:
    """The state of one trial: what must end up shipped exactly once."""

    seed: int
    log_dir: str
    rng: random.Random = field(init=False)
    acked: set[str] = field(default_factory=set)
    maybe: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)
    writers: int = 0
    flush_kills: Counter[str] = field(default_factory=Counter)
    damage: Counter[str] = field(default_factory=Counter)
    spool_writers: Counter[str] = field(default_factory=Counter)
    snapshot: bytes | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


def kill_writer(ctx: multiprocessing.context.BaseContext, trial: Trial) -> None:
    """Start a logging process and SIGKILL it after a random number of records."""
    trial.writers += 1
    tag = f"w{trial.seed}-{trial.writers}"
    compression = trial.rng.choice([None, None, "gz"])
    spool_writer = trial.rng.choice(["mmap", "write"])  # both spool writers are killed
    trial.spool_writers[spool_writer] += 1
    parent, child = ctx.Pipe(duplex=False)
    args = (trial.log_dir, tag, compression, child, spool_writer)
    proc = ctx.Process(target=writer_child, args=args)
    proc.start()
    child.close()
    stop_after = trial.rng.randint(1, 300)
    last = -1
    while last < stop_after:
        last = parent.recv()
    os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
    proc.join()
    trial.acked.update(f"{tag}-{i}" for i in range(last + 1))
    while parent.poll():  # acks in flight when it died
        try:
            trial.acked.add(f"{tag}-{parent.recv()}")
        except EOFError:
            break
    trial.maybe.add(f"{tag}-{len([a for a in trial.acked if a.startswith(tag + '-')])}")
    parent.close()


def add_foreign(trial: Trial) -> None:
    """Drop a foreign file and a spool-named file with a broken line into the spool."""
    n = trial.writers
    lines = [f"x{trial.seed}-{n}-{j}" for j in range(3)]
    with open(os.path.join(trial.log_dir, f"notes-{trial.seed}-{n}.txt"), "w") as fh:
        fh.write("".join(f"free text {s}\n" for s in lines[:2]))
    name = f"broken__20251128T132000000000Z__r__1__{n:06d}.sealed.jsonl"
    with open(os.path.join(trial.log_dir, name), "w") as fh:
        fh.write(f'{{"ts":"2025-11-28T13:20:00Z","msg":"{lines[2]}"\n')  # no record_id, torn
    trial.foreign.update(lines)


def damage_ledger(trial: Trial) -> None:
    """Hurt the ledger in one random way (or not)."""
    how = trial.rng.choice(LEDGER_DAMAGE)
    path = manifest_path(trial.log_dir)
    if not os.path.exists(path) and how not in ("delete_internal_dir", "none"):
        how = "none"
    trial.damage[how] += 1
    if how == "delete":
        os.unlink(path)
    elif how == "empty":
        open(path, "w").close()
    elif how == "delete_internal_dir":
        shutil.rmtree(os.path.join(trial.log_dir, INTERNAL_DIR), ignore_errors=True)
    elif how == "restore_old" and trial.snapshot is not None:
        with open(path, "wb") as fh:
            fh.write(trial.snapshot)
    elif how in ("garbage_line", "flip_byte", "truncate_tail"):
        data = bytearray(open(path, "rb").read())
        if not data:
            return
        if how == "truncate_tail":
            data = data[: len(data) - trial.rng.randint(1, 40)]
        elif how == "flip_byte":
            at = trial.rng.randrange(len(data))
            data[at] ^= 1 << trial.rng.randrange(7)
        else:
            lines = bytes(data).splitlines(keepends=True)
            lines[trial.rng.randrange(len(lines))] = b"#garbage#\n"
            data = bytearray(b"".join(lines))
        with open(path, "wb") as fh:
            fh.write(bytes(data))


def take_snapshot(trial: Trial) -> None:
    path = manifest_path(trial.log_dir)
    if os.path.exists(path) and trial.rng.random() < 0.5:
        trial.snapshot = open(path, "rb").read()


def random_fault(trial: Trial) -> str:
    point = trial.rng.choice(POINTS)
    return f"{point}@{trial.rng.choice([1, 1, 1, 2])}"


def run_trial(
    ctx: multiprocessing.context.BaseContext,
    trial: Trial,
    flush: Callable[[str], bool],
) -> None:
    """Writers killed, ledgers hurt and flushes killed in a seeded random order.

    ``flush(fault)`` runs one flush that may die at ``fault``; it returns True when the
    flush died there. Ends with a flush that is not killed.
    """
    for _ in range(trial.rng.randint(1, 3)):
        for _ in range(trial.rng.randint(1, 2)):
            kill_writer(ctx, trial)
        if trial.rng.random() < 0.3:
            add_foreign(trial)
        damage_ledger(trial)
        for _ in range(trial.rng.randint(1, 2)):
            fault = random_fault(trial)
            if flush(fault):
                trial.flush_kills[fault.split("@")[0]] += 1
        take_snapshot(trial)
    damage_ledger(trial)
    flush("")


def check_exactly_once(trial: Trial, msgs: list[str], raw_quarantined: list[str]) -> list[str]:
    """Every acknowledged record once in table + quarantine; nothing anywhere twice."""
    seen = Counter(msgs)
    for raw in raw_quarantined:
        m = _MSG.search(raw)
        if m:
            seen[m.group(1)] += 1
        else:
            for word in raw.split():
                if word.startswith("x"):
                    seen[word] += 1
    problems = [f"{m} shipped {n} times" for m, n in seen.items() if n > 1]
    problems += [f"{m} lost" for m in sorted(trial.acked | trial.foreign) if seen[m] == 0]
    extra = set(seen) - trial.acked - trial.foreign - trial.maybe
    problems += [f"{m} shipped but never logged" for m in sorted(extra)]
    return problems


def exit_code(proc: multiprocessing.process.BaseProcess) -> bool:
    """Whether a flush process died at its fault point (else it must have succeeded)."""
    if proc.exitcode not in (0, EXIT_CODE):
        raise AssertionError(f"flush process failed with exit code {proc.exitcode}")
    return proc.exitcode == EXIT_CODE


def messages_in(raw: list[str]) -> list[str]:
    out = []
    for text in raw:
        try:
            out.append(json.loads(text)["msg"])
        except (ValueError, KeyError, TypeError):
            continue
    return out
