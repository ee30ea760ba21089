"""Parity: the driver logger, the task logger and the executor proxy turn the same call into
the same record (message, context, level, logger), so a rule cannot drift between them."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import pytest

from laketrace.executor import proxy as proxy_mod
from laketrace.executor.accumulator import DriverSink
from laketrace.executor.proxy import ExecutorLogger
from laketrace.executor.task_logger import TaskLogger

from ..conftest import spool_records
from .fakes import FakeAccumulator, FakeTask

COMPARED = ("level", "level_no", "logger", "msg", "context", "exception", "traceback")
CALLS: list[tuple[str, Any, tuple, dict[str, Any]]] = [
    ("info", "loaded {} rows", (3,), {"table": "sales"}),
    ("warning", "rows", (5,), {}),
    ("error", "{n} rows of {table}", (), {"n": 2, "table": "sales"}),
    ("info", 'not a template {"a": 1}', (7, "x"), {}),
    ("debug", 42, (), {"items": [1, 2], "nested": {"k": None}}),
    ("success", "done at {when}", (), {"when": dt.date(2026, 1, 2)}),
    ("critical", "{} of {}", (1,), {}),
    ("trace", "ratio {:.2f}", (0.5,), {"pct": 50.0, "ok": True}),
    ("exception", "load failed", (), {"table": "sales"}),
    ("error", "with exc_info", (), {"exc_info": True}),
    ("warning", "an exception object", (), {"exc_info": KeyError("apac")}),
    ("error", "bad exc_info", (), {"exc_info": (1, 2, 3)}),
]


def _call(target: Any, call: tuple) -> None:
    """Make ``call`` on ``target`` while a ValueError is being handled."""
    method, msg, args, fields = call
    try:
        raise ValueError("rows 17: bad date")
    except ValueError:
        getattr(target, method)(msg, *args, **fields)


def _pick(record: dict[str, Any]) -> dict[str, Any]:
    picked = {k: record.get(k) for k in COMPARED}
    exc, tb = picked["exception"], picked["traceback"]
    if exc is not None:  # frames and file paths differ by call site: compare what users read
        picked["exception"] = (exc["class"], exc["msg"], bool(exc["stacktrace"]))
    if tb is not None:
        picked["traceback"] = (tb.splitlines()[0], tb.splitlines()[-1])
    return picked


def _driver(make_logger: Any, log_dir: str, call: tuple) -> dict[str, Any]:
    log = make_logger("parity", level="TRACE")
    _call(log, call)
    log.close()
    return _pick(spool_records(log_dir)[-1])


def _task(capsys: Any, call: tuple) -> dict[str, Any]:
    _call(TaskLogger("parity", 5, True), call)
    return _pick(json.loads(capsys.readouterr().err.strip().splitlines()[-1]))


def _executor(make_logger: Any, log_dir: str, monkeypatch: Any, call: tuple) -> dict[str, Any]:
    log = make_logger("parity", level="TRACE")
    acc = FakeAccumulator()
    proxy = ExecutorLogger(
        "parity",
        token="t",
        acc=acc,
        level_no=5,
        max_records=10,
        max_bytes=1 << 20,
        mode="accumulator",
        stderr=False,
    )
    monkeypatch.setattr(proxy_mod, "task_context", lambda: FakeTask())
    monkeypatch.setitem(proxy_mod._task_state, "id", None)  # a fresh task each call
    _call(proxy, call)
    DriverSink("parity", "t").deliver(acc._value)  # what the driver does as the task ends
    log.close()
    record = spool_records(log_dir)[-1]
    assert record["source"] == "executor" and record["stage_id"] == 3
    return _pick(record)


@pytest.mark.parametrize("call", CALLS, ids=[f"{c[0]}-{c[1]!s:.20}" for c in CALLS])
@pytest.mark.parametrize("impl", ["task", "executor"])
def test_same_call_same_record(impl, call, make_logger, log_dir, capsys, monkeypatch):
    """A call through the task logger or the executor proxy yields the driver's record."""
    expected = _driver(make_logger, log_dir, call)
    if impl == "task":
        got = _task(capsys, call)
    else:
        got = _executor(make_logger, log_dir, monkeypatch, call)
    assert got == expected


def test_args_without_placeholders_are_kept_everywhere(make_logger, log_dir, capsys, monkeypatch):
    """``log.info("rows", 5)`` reads "rows 5" on the driver, in tasks and on executors."""
    call = ("info", "rows", (5,), {})
    assert _driver(make_logger, log_dir, call)["msg"] == "rows 5"
    assert _task(capsys, call)["msg"] == "rows 5"
    assert _executor(make_logger, log_dir, monkeypatch, call)["msg"] == "rows 5"


def test_proxy_on_the_driver_logs_through_the_driver_logger(make_logger, log_dir):
    """Outside a task the proxy writes a driver record with the caller's call site."""
    log = make_logger("parity", level="TRACE")
    proxy = ExecutorLogger(
        "parity",
        token="t",
        acc=None,
        level_no=5,
        max_records=10,
        max_bytes=1 << 20,
        mode="noop",
        stderr=False,
    ).bind(step="load")
    proxy.info("rows", 5)
    log.close()
    record = spool_records(log_dir)[-1]
    assert (record["msg"], record["context"], record["source"]) == (
        "rows 5",
        {"step": "load"},
        "driver",
    )
    assert record["function"] == "test_proxy_on_the_driver_logs_through_the_driver_logger"


def test_executor_exception_fills_the_exception_columns(make_logger, log_dir, monkeypatch):
    """``exception()`` on an executor fills ``exception``/``traceback``, not a context field."""
    got = _executor(make_logger, log_dir, monkeypatch, ("exception", "load failed", (), {}))
    assert got["exception"] == ("ValueError", "rows 17: bad date", True)
    assert got["traceback"][1] == "ValueError: rows 17: bad date"
    assert "traceback" not in got["context"] and "exc_info" not in got["context"]


def _call_kw(target: Any, call: tuple) -> None:
    """Make ``call`` with its message as a ``msg=`` keyword."""
    method, msg, _, fields = call
    getattr(target, method)(msg=msg, **fields)


def test_a_keyword_message_is_the_message_everywhere(make_logger, log_dir, capsys, monkeypatch):
    """``log.info(msg="x", n=1)`` (the spelling accepted before the message became
    positional-only) logs "x" with field n on the driver, in tasks and on executors."""
    monkeypatch.setattr(sys.modules[__name__], "_call", _call_kw)
    call = ("warning", "keyword message", (), {"n": 1})
    expected = {"msg": "keyword message", "context": {"n": "1"}, "level": "WARNING"}
    for got in (
        _driver(make_logger, log_dir, call),
        _task(capsys, call),
        _executor(make_logger, log_dir, monkeypatch, call),
    ):
        assert {k: got[k] for k in expected} == expected
