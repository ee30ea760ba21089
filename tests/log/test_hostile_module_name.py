"""A caller whose module ``__name__`` is a hostile object never crashes a log call.

The ``module`` column comes from the caller's globals, not from an argument, so it is
checked on every write path separately (the masked spool fast path handed it to orjson
raw, which segfaulted). Runs in a subprocess so a crash fails the test.
"""

from __future__ import annotations

import json

import pytest

from ..hostile_values import LISTED, run_script

_SCRIPT = r"""
import json, sys, tempfile
from laketrace.record import encoding
encoding.set_backend(sys.argv[1])
import laketrace
from laketrace.log import registry
from tests.hostile_values import HOSTILE
from tests.conftest import spool_records

CODE = (
    "log.info('m', case=case)\n"
    "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('e', case=case)\n"
)
out = {}
for path in ("plain", "redact", "enqueue", "redact_enqueue"):
    log_dir = tempfile.mkdtemp()
    config = {"log_dir": log_dir, "stdout": False}
    if "redact" in path:
        config["redact"] = True
    if "enqueue" in path:
        config["enqueue"] = True
    log = laketrace.get_logger("hostile_module_" + path, config)
    raised = []
    for case in json.loads(sys.argv[2]):
        try:
            exec(CODE, {"__name__": HOSTILE[case](), "log": log, "case": case})
        except BaseException as exc:
            raised.append([case, type(exc).__name__])
    log.close()
    records = spool_records(log_dir)
    registry.forget(log.name)
    out[path] = {
        "raised": raised,
        "cases": sorted(r["context"]["case"] for r in records),
        "modules": [type(r["module"]).__name__ for r in records],
    }
print(json.dumps(out))
"""


@pytest.mark.parametrize("backend", ["orjson", "json"])
def test_hostile_module_name_writes_one_record_per_call(backend):
    """With a hostile ``__name__`` in the caller's globals, every write path (plain, redact,
    enqueue) writes one record per call, with the module as text, and never crashes."""
    if backend == "orjson":
        pytest.importorskip("orjson")
    cases = list(LISTED)
    result = run_script(_SCRIPT, backend, json.dumps(cases), timeout=300)
    for path, got in result.items():
        assert got["raised"] == [], path
        assert got["cases"] == sorted(cases * 2), path
        assert set(got["modules"]) == {"str"}, path
