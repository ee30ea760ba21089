"""Parity: the driver logger, the task logger and the executor proxy turn the same call into
the same record (message, context, level, logger), so a rule cannot drift between them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from laketrace.executor import proxy as proxy_mod
from laketrace.executor.accumulator import DriverSink, TaskBuffer
from laketrace.executor.proxy import ExecutorLogger
from laketrace.executor.task_logger import TaskLogger

from ..conftest import spool_records

COMPARED = ("level", "level_no", "logger", "msg", "context")
CALLS: list[tuple[str, Any, tuple, dict[str, Any]]] = [
    ("info", "loaded {} rows", (3,), {"table": "sales"}),
    ("warning", "rows", (5,), {}),
    ("error", "{n} rows of {table}", (), {"n": 2, "table": "sales"}),
    ("info", 'not a template {"a": 1}', (7, "x"), {}),
    ("debug", 42, (), {"items": [1, 2], "nested": {"k": None}}),
    ("success", "done at {when}", (), {"when": dt.date(2026, 1, 2)}),
    ("critical", "{} of {}", (1,), {}),
    ("trace", "ratio {:.2f}", (0.5,), {"pct": 50.0, "ok": True}),
]


class FakeTask:
    """Just enough of pyspark's TaskContext for the executor proxy."""

    def stageId(self) -> int:
        return 3

    def partitionId(self) -> int:
        return 1

    def attemptNumber(self) -> int:
        return 0

    def taskAttemptId(self) -> int:
        return 99

    def getLocalProperty(self, key: str) -> str | None:
        return None


class FakeAccumulator:
    def __init__(self) -> None:
        self._value = TaskBuffer()


def _pick(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in COMPARED}


def _driver(make_logger: Any, log_dir: str, call: tuple) -> dict[str, Any]:
    method, msg, args, fields = call
    log = make_logger("parity", level="TRACE")
    getattr(log, method)(msg, *args, **fields)
    log.close()
    return _pick(spool_records(log_dir)[-1])


def _task(capsys: Any, call: tuple) -> dict[str, Any]:
    method, msg, args, fields = call
    getattr(TaskLogger("parity", 5, True), method)(msg, *args, **fields)
    return _pick(json.loads(capsys.readouterr().err.strip().splitlines()[-1]))


def _executor(make_logger: Any, log_dir: str, monkeypatch: Any, call: tuple) -> dict[str, Any]:
    method, msg, args, fields = call
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
    getattr(proxy, method)(msg, *args, **fields)
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
