"""Files that change between the delta-rs read-ahead and their batch holding them:
compressed by the logger, deleted (retention, a person), appended to. Nothing read ahead
is shipped for them; each record ships once, a deleted file is one missing row, an added
line is quarantined."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
from collections import Counter

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from laketrace import flush_to_delta
from laketrace.flush import prefetch as prefetch_mod
from laketrace.flush import prepare as prepare_mod
from laketrace.flush.prefetch import Prefetch
from laketrace.testing import read_delta

N = 240


def _mutate(path: str, op: int, deleted: set[str]) -> None:
    if op == 0:  # the logger's compression: a new file, the original removed
        with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.unlink(path)
    elif op == 1:  # retention or a person deleted it
        with open(path, "rb") as fh:
            deleted.update(json.loads(line)["msg"] for line in fh)
        os.unlink(path)
    else:  # somebody appended a broken line (a sealed file is never changed: damage)
        with open(path, "ab") as fh:
            fh.write(b'{"broken\n')


def test_files_changed_after_the_read_ahead_ship_exactly_once(
    make_logger, log_dir, tmp_path, monkeypatch
):
    """After every read-ahead its files are compressed, deleted or appended to in turn:
    every record of a surviving file is in the table once, each deleted file is one
    ``missing`` quarantine row, each appended line one quarantine row."""
    log = make_logger(rotation="2 KB")
    for i in range(N):
        log.info("r{}", i, pad="q" * 20)
    log.close()
    deleted: set[str] = set()
    ops: Counter[int] = Counter()
    read_ahead: set[str] = set()
    real_run, real_hold = Prefetch._run, prepare_mod.hold

    def run(self, paths):
        real_run(self, paths)
        read_ahead.update(paths)

    def hold(spool_dir, f, held_dir):
        # the batch after a read-ahead: let the read finish, then change its files just
        # before the batch holds them
        for t in threading.enumerate():
            if t.name == "laketrace-prefetch" and t is not threading.current_thread():
                t.join()
        if f.path in read_ahead and os.path.exists(f.path):
            read_ahead.discard(f.path)
            op = sum(ops.values()) % 3
            ops[op] += 1
            _mutate(f.path, op, deleted)
        return real_hold(spool_dir, f, held_dir)

    monkeypatch.setattr(prefetch_mod.Prefetch, "_run", run)
    monkeypatch.setattr(prepare_mod, "hold", hold)
    target = str(tmp_path / "t")
    res = flush_to_delta(log_dir=log_dir, path=target, batch_bytes=3_000)
    assert res.batches > 3 and min(ops[0], ops[1], ops[2]) >= 2
    msgs = Counter(read_delta(target, ["msg"]).column("msg").to_pylist())
    assert [m for m, n in msgs.items() if n > 1] == []
    assert set(msgs) == {f"r{i}" for i in range(N)} - deleted
    reasons = read_delta(target + "_quarantine", ["reason"]).column("reason").to_pylist()
    assert sum(r.startswith("missing") for r in reasons) == ops[1]
    assert sum(r.startswith("not valid JSON") for r in reasons) == ops[2]
    assert len(reasons) == ops[1] + ops[2]
