"""Hostile values never crash or raise out of a log call, and every call writes one record.

Anything that could reach a JSON encoder runs in a subprocess (orjson 3.x segfaults on some
of these values when handed them directly), so a crash fails the test instead of the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ..hostile_values import HOSTILE, LISTED, run_script

# One subprocess: log every case through every channel of one write path, then print what
# was called and what the spool holds. Each call tags its record with case and channel.
_SCRIPT = r"""
import contextlib, io, json, os, sys, tempfile
from laketrace.record import encoding
backend, path, cases, bad_exc_infos = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:5])
if path == "write":  # the fast path with the write() spool writer instead of the mapping
    os.environ["LAKETRACE_SPOOL_WRITER"] = "write"
else:
    os.environ.pop("LAKETRACE_SPOOL_WRITER", None)
encoding.set_backend(backend)
import laketrace
from laketrace.log import registry
from tests.hostile_values import FIELD_ONLY, HOSTILE
from tests.conftest import spool_records

log_dir = tempfile.mkdtemp()
config = {"log_dir": log_dir, "stdout": False, "level": "TRACE"}
if path == "enqueue":
    config["enqueue"] = True
log = laketrace.get_logger("hostile", config)
texts = []
if path == "handlers":
    log.add_handler({"sink": texts.append})
    log.add_handler({"sink": texts.append, "json": True})
    log.add_handler({"sink": texts.append, "format": "{message} {extra} {exception}"})
calls, raised = [], []

def call(case, channel, fn):
    calls.append([case, channel])
    try:
        fn()
    except BaseException as exc:
        raised.append([case, channel, type(exc).__name__])

def in_context(case, value):
    with log.contextualize(v=value):
        log.info("m", case=case, channel="contextualize")

def in_except(case, value):
    try:
        raise ValueError("active")
    except ValueError:
        log.exception("m {}", value, case=case, channel="exception", v=value)

for case in cases:
    make = HOSTILE[case]
    call(case, "field", lambda: log.info("m", case=case, channel="field", v=make()))
    call(case, "bind", lambda: log.bind(v=make()).warning("m", case=case, channel="bind"))
    call(case, "contextualize", lambda: in_context(case, make()))
    if case in FIELD_ONLY:
        continue
    call(case, "arg", lambda: log.error("m {}", make(), case=case, channel="arg"))
    call(case, "message", lambda: log.info(make(), case=case, channel="message"))
    call(case, "exc_info", lambda: log.info("m", exc_info=make(), case=case, channel="exc_info"))
    call(case, "exception", lambda: in_except(case, make()))
for i, value in enumerate(bad_exc_infos):
    value = tuple(value) if isinstance(value, list) else value
    tag = {"case": f"exc_info{i}", "channel": "exc_info"}
    call(tag["case"], "exc_info", lambda: log.error("m", exc_info=value, **tag))
log.close()
records = spool_records(log_dir)
registry.forget("hostile")
print(json.dumps({"calls": calls, "raised": raised, "records": records, "texts": len(texts)}))
"""


def run_hostile(
    backend: str, path: str, cases: list[str], bad_exc_infos: list[Any] | None = None
) -> dict[str, Any]:
    """Run `_SCRIPT` in a subprocess; fail on a crash (non-zero exit, e.g. a segfault)."""
    if backend == "orjson":
        pytest.importorskip("orjson")
    args = [json.dumps(cases), json.dumps(bad_exc_infos or [])]
    return run_script(_SCRIPT, backend, path, *args)  # type: ignore[no-any-return]


def by_call(result: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The records of each (case, channel) call."""
    got: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in result["records"]:
        key = (rec["context"].get("case"), rec["context"].get("channel"))
        got.setdefault(key, []).append(rec)
    return got


def assert_one_record_per_call(result: dict[str, Any]) -> None:
    """No call raised and each call wrote exactly one record."""
    assert result["raised"] == []
    got = by_call(result)
    counts = {tuple(c): len(got.get(tuple(c), [])) for c in result["calls"]}  # type: ignore[misc]
    assert {k: n for k, n in counts.items() if n != 1} == {}
    assert len(result["records"]) == len(result["calls"])


def unrenderable(rec: dict[str, Any]) -> list[str]:
    """The field names a record lists as not rendered faithfully."""
    return json.loads(rec["context"].get("laketrace.unrenderable", "[]"))  # type: ignore[no-any-return]


BACKENDS = ["orjson", "json"]
# "fast": only the spool listens (memory-mapped spool writer, the default); "write": the
# same with the write() spool writer (LAKETRACE_SPOOL_WRITER=write)
PATHS = ["fast", "write", "enqueue", "handlers"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_listed_values_write_one_record_per_call(backend, path):
    """The values of issue 12 (slots dataclass, raising utcoffset/.value/items()/__lt__) and
    exc_info=(1, 2, 3) write one record per call on every write path, never crash or raise."""
    result = run_hostile(backend, path, list(LISTED), [[1, 2, 3]])
    assert_one_record_per_call(result)
    got = by_call(result)
    for case in ("slots_dataclass_unset", "datetime_raising_utcoffset", "enum_raising_value"):
        for channel in ("field", "bind", "contextualize"):
            (rec,) = got[(case, channel)]
            assert unrenderable(rec) == ["v"], (case, channel, rec["context"])
    (slots,) = got[("slots_dataclass_unset", "field")]
    assert "<unprintable SlotsDC.a: AttributeError" in json.loads(slots["context"]["v"])["a"]
    (sorted_set,) = got[("set_raising_lt", "field")]
    assert json.loads(sorted_set["context"]["v"]) == ["BadLt()"] * 3
    (bad,) = got[("exc_info0", "exc_info")]
    assert bad["exception"] is None and unrenderable(bad) == ["exc_info"]
    assert "exc_info must be True, an exception" in bad["context"]["exc_info"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_values_write_one_record_per_call(backend, path):
    """Every hostile value (raising hooks, NaN, huge ints, surrogates, cycles, deep nesting,
    control characters...) writes one record per call through every channel."""
    result = run_hostile(backend, path, sorted(HOSTILE))
    assert_one_record_per_call(result)
    calls_with_text = sum(1 for case, _ in result["calls"])
    if path == "handlers":
        assert result["texts"] == 3 * calls_with_text


def test_nan_and_infinity_are_the_same_strings_in_both_backends():
    """NaN and infinities become "nan"/"inf"/"-inf" strings, identically with orjson and json."""
    seen = {}
    for backend in BACKENDS:
        got = by_call(run_hostile(backend, "fast", ["nan", "inf", "nested_nan"]))
        seen[backend] = {case: got[(case, "field")][0]["context"]["v"] for case, _ in got}
    assert seen["orjson"] == seen["json"]
    assert seen["json"] == {"nan": '"nan"', "inf": '"inf"', "nested_nan": '{"a":["nan","-inf"]}'}


@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_exc_info_keeps_the_record(backend):
    """Malformed exc_info values keep their record, name exc_info as unrenderable; a
    (None, None, None) tuple (sys.exc_info() outside except) is simply no exception."""
    values: list[Any] = [[1, 2, 3], "yes", 1, [None, "x", None], [None, None, None]]
    result = run_hostile(backend, "fast", [], values)
    assert_one_record_per_call(result)
    got = by_call(result)
    for i in range(4):
        (rec,) = got[(f"exc_info{i}", "exc_info")]
        assert rec["exception"] is None and unrenderable(rec) == ["exc_info"]
    (empty,) = got[("exc_info4", "exc_info")]
    assert empty["exception"] is None and "exc_info" not in empty["context"]


def test_fields_render_the_same_in_both_backends():
    """Hostile field values give the same context text with orjson and stdlib json."""
    cases = sorted(HOSTILE)
    seen = {}
    for backend in BACKENDS:
        got = by_call(run_hostile(backend, "fast", cases))
        seen[backend] = {case: got[(case, "field")][0]["context"] for case in cases}
    for case in cases:
        a, b = seen["orjson"][case], seen["json"][case]
        assert _no_addresses(a) == _no_addresses(b), case


def _no_addresses(ctx: dict[str, str]) -> dict[str, str]:
    return {k: re.sub(r"0x[0-9a-f]+", "0x?", v) for k, v in ctx.items()}
