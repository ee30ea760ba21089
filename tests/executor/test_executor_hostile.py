"""Hostile values through the task logger and the executor proxy: one record per call, the
same record as the driver's, never a crash or an exception (run in a subprocess)."""

from __future__ import annotations

import re

import pytest

from ..hostile_values import HOSTILE, run_script

_SCRIPT = r"""
import io, json, sys, tempfile
from laketrace.record import encoding
encoding.set_backend(sys.argv[1])
import laketrace
from laketrace.executor import proxy as proxy_mod
from laketrace.executor.accumulator import DriverSink
from laketrace.executor.proxy import ExecutorLogger
from laketrace.executor.task_logger import TaskLogger
from tests.conftest import spool_records
from tests.executor.test_executor_parity import FakeAccumulator, FakeTask
from tests.hostile_values import FIELD_ONLY, HOSTILE

log_dir = tempfile.mkdtemp()
log = laketrace.get_logger("hostile", {"log_dir": log_dir, "stdout": False, "level": "TRACE"})
acc = FakeAccumulator()
executor = ExecutorLogger("hostile", token="t", acc=acc, level_no=5, max_records=10_000,
                          max_bytes=1 << 30, mode="accumulator", stderr=False)
task = TaskLogger("hostile", 5, True)
err = io.StringIO()
real_err, sys.stderr = sys.stderr, err
calls, raised = [], []
for case in sys.argv[2].split(","):
    for channel in ("field", "bind", "arg"):
        if channel == "arg" and case in FIELD_ONLY:
            continue
        for impl, target in (("driver", log), ("task", task), ("executor", executor)):
            if impl == "executor":
                proxy_mod.task_context = lambda: FakeTask()
            tag = {"case": case, "channel": channel, "impl": impl}
            calls.append(tag)
            try:
                if channel == "field":
                    target.info("m", v=HOSTILE[case](), **tag)
                elif channel == "bind":
                    target.bind(v=HOSTILE[case]()).info("m", **tag)
                else:
                    target.info("m {}", HOSTILE[case](), **tag)
            except BaseException as exc:
                raised.append([case, channel, impl, type(exc).__name__])
sys.stderr = real_err
DriverSink("hostile", "t").deliver(acc._value)
log.close()
records = spool_records(log_dir)
records += [json.loads(line) for line in err.getvalue().split("\n") if line.startswith("{")]
print(json.dumps({"calls": calls, "raised": raised, "records": records}))
"""


@pytest.mark.parametrize("backend", ["orjson", "json"])
def test_executor_loggers_match_the_driver_on_hostile_values(backend):
    """Task logger and executor proxy write one record per call for every hostile value,
    with the driver's message and context (unrenderable fields named the same way)."""
    if backend == "orjson":
        pytest.importorskip("orjson")
    result = run_script(_SCRIPT, backend, ",".join(sorted(HOSTILE)))
    assert result["raised"] == []
    seen: dict[tuple, list] = {}
    for rec in result["records"]:
        ctx = dict(rec["context"])
        key = (ctx.pop("case"), ctx.pop("channel"), ctx.pop("impl"))
        seen.setdefault(key, []).append(
            (_no_address(rec["msg"]), {k: _no_address(v) for k, v in ctx.items()})
        )
    calls = [(c["case"], c["channel"], c["impl"]) for c in result["calls"]]
    assert {c: len(seen.get(c, [])) for c in calls if len(seen.get(c, [])) != 1} == {}
    for case, channel, impl in calls:
        if impl != "driver":
            assert seen[(case, channel, impl)] == seen[(case, channel, "driver")], (case, channel)


def _no_address(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x?", text)
