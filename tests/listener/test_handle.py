"""The listener's handle and the executor sink follow the logger by name, and never count a
record as written when no logger took it."""

from __future__ import annotations

import os

import laketrace
from laketrace.executor.accumulator import DriverSink, ExecutorRecord, TaskBuffer
from laketrace.log import ExternalSource, live_logger, registry
from spark_listener._install import ListenerHandle


def test_handle_follows_a_replaced_logger(tmp_path):
    """After a re-run cell replaces the logger (new log_dir), the handle seals and measures the
    new spool, and a target taken from the config follows the new config."""
    old = laketrace.get_logger("lt.handle", {"log_dir": str(tmp_path / "a"), "stdout": False})
    handle = ListenerHandle(None, old, None, None, 60.0, 1 << 20, target_from_config=True)
    new_cfg = {"log_dir": str(tmp_path / "b"), "stdout": False, "path": str(tmp_path / "t")}
    new = laketrace.get_logger("lt.handle", new_cfg)
    try:
        assert handle.current_logger() is new and live_logger("lt.handle") is new
        new.info("after the re-run")
        new.close()
        assert handle.sealed_bytes() == sum(
            os.path.getsize(tmp_path / "b" / f) for f in os.listdir(tmp_path / "b") if "sealed" in f
        )
        assert handle.sealed_bytes() > 0
    finally:
        new.close()
        registry.forget("lt.handle")
    assert live_logger("lt.handle") is None and handle.current_logger() is old


def test_external_source_without_a_logger_reports_it():
    """ExternalSource.emit says False when no logger of that name exists."""
    assert ExternalSource("lt.nobody", source="listener").emit("INFO", "x") is False


def test_driver_sink_does_not_mark_undeliverable_records_seen(tmp_path):
    """Records that arrive while no logger is live are counted as undeliverable, not seen, so
    a re-delivery after the logger exists is written."""
    buf = TaskBuffer()
    buf.records.append(ExecutorRecord("x-1", 1.0, 20, "hello", {}, "m", "f", 1, "t"))
    sink = DriverSink("lt.later", "tok")
    sink.deliver(buf)
    assert (sink.delivered, sink.undeliverable, len(sink.seen)) == (0, 1, 0)
    log = laketrace.get_logger("lt.later", {"log_dir": str(tmp_path), "stdout": False})
    try:
        sink.deliver(buf)
        assert (sink.delivered, sink.undeliverable) == (1, 1)
    finally:
        log.close()
        registry.forget("lt.later")
