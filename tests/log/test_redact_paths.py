"""Redaction holds on every path a record takes (driver calls, enqueue, stdlib, listener,
executor records, task loggers) and covers the logger name in columns and file names."""

from __future__ import annotations

import json
import logging
import os
import pickle
from typing import Any

import pytest

import laketrace
from laketrace import runtime
from laketrace.executor import proxy as proxy_mod
from laketrace.executor.accumulator import DriverSink, ExecutorRecord, TaskBuffer
from laketrace.executor.proxy import ExecutorLogger
from laketrace.log.external import ExternalSource
from laketrace.log.redact import compile_redactor
from laketrace.spool.names import list_spool

from ..conftest import spool_records
from ..executor.fakes import FakeAccumulator, FakeTask

PW = "hunter2-Xq9"
TOKEN = "tok-Zz-771"


def _assert_clean(*texts: Any) -> None:
    blob = "".join(t if isinstance(t, str) else json.dumps(t) for t in texts)
    assert PW not in blob and TOKEN not in blob


def test_redaction_turns_the_fast_path_off(make_logger):
    """With redact on, no call takes the spool-only fast path (which would skip masking)."""
    plain = make_logger()
    assert plain._core.fast is not None
    for enqueue in (False, True):
        core = make_logger(redact=True, enqueue=enqueue)._core
        assert core.fast is None and core.fast_queue is None


@pytest.mark.parametrize("enqueue", [False, True])
def test_driver_calls_are_masked(make_logger, log_dir, enqueue):
    """Message patterns and secret-named fields are masked, synchronously and with enqueue."""
    log = make_logger(redact=True, enqueue=enqueue)
    log.bind(token=TOKEN).info(f"password={PW} ok", cfg={"Password": PW})
    log.close()
    (rec,) = spool_records(log_dir)
    _assert_clean(rec)
    assert rec["msg"] == "password=*** ok" and rec["context"]["token"] == "***"


def test_stdlib_message_and_extra_are_masked(make_logger, log_dir):
    """Stdlib records: the message and ``extra=`` fields named like secrets are masked."""
    log = make_logger(redact=True)
    cap = laketrace.capture_stdlib(log, loggers=["redact.std"])
    try:
        logging.getLogger("redact.std").warning(
            "db password=%s", PW, extra={"PASSWORD": PW, "conf": {"sas": TOKEN}, "user": "bob"}
        )
    finally:
        cap.uninstall()
    log.close()
    (rec,) = spool_records(log_dir)
    _assert_clean(rec)
    assert rec["source"] == "stdlib" and rec["msg"] == "db password=***"
    assert rec["context"]["PASSWORD"] == "***" and rec["context"]["user"] == "bob"


def test_listener_records_are_masked(make_logger, log_dir):
    """Records from other sources (Spark listener) are masked like log calls."""
    log = make_logger("redact.listener", redact=True)
    ExternalSource("redact.listener", source="listener").emit(
        "ERROR", f"job failed: jdbc:mysql://bob:{PW}@h/db", fields={"api_key": TOKEN}
    )
    log.close()
    (rec,) = spool_records(log_dir)
    _assert_clean(rec)
    assert rec["msg"] == "job failed: jdbc:mysql://bob:***@h/db"


def test_executor_records_delivered_to_the_driver_are_masked(make_logger, log_dir):
    """Executor records (already context-encoded strings) are masked when written on the driver."""
    log = make_logger("redact.exec", redact=True)
    buf = TaskBuffer()
    ctx = {"secret": PW, "conn": json.dumps({"db": {"password": TOKEN}})}
    buf.records.append(ExecutorRecord("x-1", 1.0, 20, f"Bearer {TOKEN}", ctx, "m", "f", 1, "t"))
    DriverSink("redact.exec", "tok").deliver(buf)
    log.close()
    (rec,) = spool_records(log_dir)
    _assert_clean(rec)
    assert rec["source"] == "executor" and rec["context"]["secret"] == "***"


def _proxy(mode: str, acc: Any = None, stderr: bool = False) -> ExecutorLogger:
    redact = pickle.loads(pickle.dumps(compile_redactor(True)))  # as it reaches a task
    return ExecutorLogger(
        "redact.proxy", token="t", acc=acc, level_no=20, max_records=10, max_bytes=1 << 20,
        mode=mode, stderr=stderr, redact=redact,
    )  # fmt: skip


def test_executor_proxy_masks_before_records_leave_the_task(monkeypatch):
    """In accumulator mode the task's buffered records are already masked."""
    monkeypatch.setattr(proxy_mod, "task_context", lambda: FakeTask())
    acc = FakeAccumulator()
    _proxy("accumulator", acc).bind(token=TOKEN).info("pw {}", f"password={PW}", db={"pwd": PW})
    (item,) = acc._value.records
    _assert_clean(item.msg, item.context)


def test_executor_proxy_stderr_is_masked(monkeypatch, capsys):
    """In noop mode with ``executor_stderr`` the task's stderr line is masked."""
    monkeypatch.setattr(proxy_mod, "task_context", lambda: FakeTask())
    _proxy("noop", stderr=True).warning(f"Authorization: Basic {TOKEN}", secret=PW)
    err = capsys.readouterr().err
    _assert_clean(err)
    assert json.loads(err)["context"] == {"secret": "***"}


def test_task_logger_stderr_is_masked(monkeypatch, capsys):
    """``get_logger`` inside a task with ``redact`` masks what it writes to stderr."""
    monkeypatch.setattr(runtime, "in_spark_task", lambda: True)
    log = laketrace.get_logger(f"task token={TOKEN}", {"executor_stderr": True, "redact": True})
    log.bind(password=PW).info(f"conn https://bob:{PW}@host/x")
    try:
        raise ValueError(f"password={PW}")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    _assert_clean(lines)
    assert [r["msg"] for r in lines] == ["conn https://bob:***@host/x", "failed"]
    assert lines[0]["logger"] == "task token=***"
    assert "password=***" in lines[1]["traceback"]
    assert lines[1]["exception"]["msg"] == "password=***"


def test_executor_exception_is_masked_before_it_leaves_the_task(make_logger, log_dir, monkeypatch):
    """An executor ``exception()`` travels as a masked rendering: no secret in any column."""
    log = make_logger("redact.proxy", redact=True)
    acc = FakeAccumulator()
    proxy = _proxy("accumulator", acc)
    monkeypatch.setattr(proxy_mod, "task_context", lambda: FakeTask())
    try:
        raise ValueError(f"password={PW}")
    except ValueError:
        proxy.exception("failed")
    assert PW not in repr(pickle.dumps(acc._value))  # what crosses the wire
    DriverSink("redact.proxy", "t").deliver(acc._value)
    log.close()
    (rec,) = spool_records(log_dir)
    _assert_clean(rec)
    assert rec["exception"]["msg"] == "password=***" and "password=***" in rec["traceback"]


def test_task_logger_refuses_a_redact_typo(monkeypatch):
    """The typo rule holds inside tasks too: no silently unprotected task logger."""
    monkeypatch.setattr(runtime, "in_spark_task", lambda: True)
    with pytest.raises(laketrace.ConfigError, match="databricks_token"):
        laketrace.get_logger("t", {"executor_stderr": True, "redact": ["databrick_token"]})


def test_pickled_driver_logger_masks_in_tasks(make_logger, monkeypatch, capsys):
    """A driver logger captured in a UDF closure masks in the task like on the driver."""
    log = make_logger("redact.pickled", redact=True, executor_stderr=True)
    data = pickle.dumps(log.bind(api_key=TOKEN))
    monkeypatch.setattr(runtime, "in_spark_task", lambda: True)
    task_log = pickle.loads(data)
    task_log.info(f"password={PW}")
    err = capsys.readouterr().err
    _assert_clean(err)
    assert json.loads(err)["context"] == {"api_key": "***"}


NAME = f"ingest token={TOKEN} sig={PW}"


def test_logger_name_is_masked_in_column_and_file_names(make_logger, log_dir, capsys):
    """A logger named with a secret: masked ``logger`` column, stdout, and spool file names."""
    log = make_logger(NAME, redact=True, stdout=True)
    log.info("hello")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["logger"] == "ingest token=*** sig=***"
    names = os.listdir(log_dir)
    assert names and all(TOKEN not in n and PW not in n for n in names)
    _assert_clean(capsys.readouterr().out)
    assert [r["msg"] for r in log.tail(5, file=open(os.devnull, "w"))] == ["hello"]


def test_logger_name_is_masked_in_records_that_skip_dispatch(make_logger):
    """The enqueue drop notice carries the masked logger name too."""
    log = make_logger(NAME, redact=True)
    notice = log._core._drop_notice(3)
    assert notice.logger_name == "ingest token=*** sig=***"


def test_stdlib_logger_name_is_masked(make_logger, log_dir):
    """A captured stdlib logger whose name carries a secret is masked in the column."""
    log = make_logger(redact=True)
    name = f"app.password={PW}"
    cap = laketrace.capture_stdlib(log, loggers=[name])
    try:
        logging.getLogger(name).info("x")
    finally:
        cap.uninstall()
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["logger"] == "app.password=***"
    assert all(PW not in path for path, _ in list_spool(log_dir))


def test_thread_name_is_masked(make_logger, log_dir):
    """A thread named with a secret is masked in ``thread_name``."""
    import threading

    log = make_logger(redact=True)
    t = threading.Thread(target=lambda: log.info("x"), name=f"worker token={TOKEN}")
    t.start()
    t.join()
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["thread_name"] == "worker token=***"
