"""LakeTrace 1.x calls: get_logger's run_id, Logger and create_logger, log_structured,
detect_runtime's details, log_dir=None (no spool) and stop_spark_if_active."""

from __future__ import annotations

import io
import os
import sys

import pytest

import laketrace
from laketrace import runtime
from laketrace.errors import ConfigError
from laketrace.log import registry
from laketrace.testing import capture_records

from ..conftest import spool_records


@pytest.fixture
def forget():
    names: list[str] = []
    yield names.append
    for name in names:
        live = registry.find_core(name)
        if live is not None:
            live.close()
        registry.forget(name)


def test_get_logger_takes_run_id_as_third_argument(log_dir, forget):
    """get_logger(name, config, run_id) sets the run id of its records, like config run_id."""
    forget("compat.run")
    log = laketrace.get_logger("compat.run", {"log_dir": log_dir, "stdout": False}, "run-42")
    log.info("x")
    log.close()
    assert log.run_id == "run-42" and spool_records(log_dir)[0]["run_id"] == "run-42"
    same = laketrace.get_logger("compat.run", {"log_dir": log_dir, "stdout": False}, "run-42")
    assert same is log
    with pytest.raises(ConfigError, match="disagree"):
        laketrace.get_logger("compat.run", {"log_dir": log_dir, "run_id": "a"}, "b")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LAKEHOUSE_CONTEXT_RUN_ID": "lh-1"}, "lh-1"),
        ({"FABRIC_RUN_ID": "fab-1"}, "fab-1"),
        ({"LAKEHOUSE_CONTEXT_RUN_ID": "lh-1", "FABRIC_RUN_ID": "fab-1"}, "lh-1"),
        ({"LAKETRACE_RUN_ID": "lt-1", "FABRIC_RUN_ID": "fab-1"}, "lt-1"),
        ({"LAKETRACE_RUN_ID": " ", "FABRIC_RUN_ID": "fab-1"}, "fab-1"),
    ],
)
def test_run_id_environment_sources_in_order(monkeypatch, env, expected):
    """The run id comes from LAKETRACE_RUN_ID, then LAKEHOUSE_CONTEXT_RUN_ID, then
    FABRIC_RUN_ID (blank values skipped)."""
    for key in runtime.RUN_ID_ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runtime.set_run_id(None)
    try:
        assert runtime.run_id() == expected
    finally:
        runtime.set_run_id(None)


def test_create_logger_always_makes_a_new_logger(log_dir, forget):
    """create_logger replaces a logger of the same name even with the same config."""
    forget("compat.create")
    cfg = {"log_dir": log_dir, "stdout": False}
    first = laketrace.create_logger("compat.create", cfg)
    second = laketrace.create_logger("compat.create", cfg)
    assert first is not second and laketrace.get_logger("compat.create", cfg) is second


def test_logger_class_builds_and_recognises_loggers(log_dir, forget):
    """Logger(name, config) makes a new logger; every LakeTrace logger is a Logger."""
    forget("compat.class")
    log = laketrace.Logger("compat.class", {"log_dir": log_dir, "stdout": False}, run_id="r9")
    assert isinstance(log, laketrace.Logger) and isinstance(log, laketrace.LakeTraceLogger)
    assert log.run_id == "r9" and log.name == "compat.class"
    assert isinstance(log.bind(x=1), laketrace.Logger)
    assert issubclass(type(log), laketrace.Logger) and not isinstance("x", laketrace.Logger)


def test_log_structured_masks_data_and_keeps_the_message_literal(make_logger, log_dir):
    """log_structured logs data as fields, masks PII and secrets in it by default, and never
    formats the message."""
    log = make_logger()
    data = {"user": "john@example.com", "ip": "10.1.2.3", "password": "hunter2", "n": 3}
    log.log_structured("login {user}", level="WARNING", data=data)
    log.log_structured("raw", data={"user": "john@example.com"}, mask_sensitive=False)
    log.log_structured("list", data=[1, 2])
    log.log_structured("debug dropped", level="DEBUG", data={"x": 1})
    log.close()
    first, second, third = spool_records(log_dir)
    assert first["msg"] == "login {user}" and first["level"] == "WARNING"
    assert first["context"] == {
        "user": "j***@example.com", "ip": "10.1.***", "password": "***", "n": "3",
    }  # fmt: skip
    assert second["context"] == {"user": "john@example.com"}
    assert third["context"] == {"data": "[1,2]"}
    assert first["function"] == "test_log_structured_masks_data_and_keeps_the_message_literal"


def test_log_dir_none_writes_no_spool_and_says_so_once(tmp_path, monkeypatch, forget):
    """log_dir=None: stdout and added handlers only, one INFO saying nothing reaches Delta,
    and no spool directory is created anywhere."""
    forget("compat.nospool")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with capture_records() as records:
        log = laketrace.get_logger("compat.nospool", {"log_dir": None})
        log.info("hello {}", 1)
        again = laketrace.get_logger("compat.nospool", {"log_dir": None})
    assert again is log and log.log_dir is None and os.listdir(tmp_path) == []
    notes = [r for r in records if "nothing will reach Delta" in r.message]
    assert len(notes) == 1 and notes[0].level == "INFO"
    assert "hello 1" in out.getvalue() and "nothing will reach Delta" in out.getvalue()
    got = []
    log.add_handler({"sink": got.append})
    log.warning("to the handler")
    assert [m.record.message for m in got] == ["to the handler"]


def test_log_dir_none_flush_tail_and_upload_are_clear(tmp_path, forget, capsys):
    """Without spool: flush_to_delta is a ConfigError saying why, tail prints one line and
    returns [], upload returns False with a WARNING; close and for_executors work."""
    forget("compat.nospool2")
    log = laketrace.get_logger("compat.nospool2", {"log_dir": None, "stdout": False})
    with pytest.raises(ConfigError, match="log_dir=None"):
        log.flush_to_delta(path=str(tmp_path / "t"))
    assert log.tail(5) == [] and "has no spool" in capsys.readouterr().out
    with capture_records() as records:
        assert log.upload_log_to_lakehouse(str(tmp_path / "up.jsonl")) is False
    assert [r.level for r in records] == ["WARNING"] and "log_dir=None" in records[0].message
    proxy = log.for_executors(mode="noop")
    proxy.info("dropped")
    log.flush()
    log.close()


def test_log_dir_none_with_a_flush_target_is_refused():
    """log_dir=None with path or table is a ConfigError: nothing could ever ship."""
    with pytest.raises(ConfigError, match="log_dir=None writes no spool"):
        laketrace.get_logger("compat.nospool3", {"log_dir": None, "path": "/tmp/t"})


def test_detect_runtime_is_the_string_with_details(monkeypatch):
    """laketrace.detect_runtime() equals today's runtime string and has platform (an enum),
    runtime_type and metadata."""
    monkeypatch.setenv("FABRIC_WORKSPACE_ID", "ws-1")
    monkeypatch.setenv("FABRIC_LAKEHOUSE_ID", "lh-1")
    info = laketrace.detect_runtime()
    assert info == "fabric" and info == runtime.detect_runtime()
    assert info.platform is runtime.RuntimePlatform.FABRIC and info.platform.value == "fabric"
    assert info.runtime_type in tuple(runtime.RuntimeType)
    assert info.metadata["workspace_id"] == "ws-1" and info.metadata["lakehouse_id"] == "lh-1"
    assert info.metadata["platform"] == "fabric" and info.pid == os.getpid()
    assert {"fabric": 1}[info] == 1 and f"{info}" == "fabric"
    assert str(info.platform) == f"{info.platform}" == "fabric" and str(info.runtime_type) in (
        "notebook",
        "job",
        "script",
    )


@pytest.mark.parametrize(
    ("env", "platform", "kind"),
    [
        ({"FABRIC_LAKEHOUSE_ID": "x"}, "fabric", "script"),
        ({"FABRIC_JOB_ID": "j"}, "fabric", "job"),
        ({"SYNAPSE_WORKSPACE_NAME": "syn"}, "synapse", "script"),
        ({"DATABRICKS_RUNTIME_VERSION": "15.4", "DB_JOB_RUN_ID": "7"}, "databricks", "job"),
        ({"DATABRICKS_RUNTIME_VERSION": "15.4"}, "databricks", "script"),
        ({}, "local", "script"),
    ],
)
def test_detect_runtime_platform_and_type(env, platform, kind):
    """Platform and notebook/job/script come from the environment (1.x's signals too)."""
    info = runtime.describe_runtime(environ=env, probe_spark=False)
    assert (info, info.platform.value) == (platform, platform)
    if "ipykernel" not in sys.modules:
        assert info.runtime_type.value == kind


def test_detect_runtime_never_blocks_or_arms_signals():
    """Detection arms no SIGALRM timer (1.x left a 2-second alarm behind) and imports
    nothing heavy."""
    import signal

    before = set(sys.modules)
    laketrace.detect_runtime()
    if hasattr(signal, "alarm"):
        assert signal.alarm(0) == 0
    assert not {m for m in set(sys.modules) - before if m.startswith(("pyspark", "notebook"))}


def test_stop_spark_if_active_without_spark_is_a_no_op():
    """stop_spark_if_active() does nothing (and imports nothing) when pyspark is not in use."""
    laketrace.stop_spark_if_active()
