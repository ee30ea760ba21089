"""The stdlib logging bridge: level, logger name, call site and exception are kept."""

from __future__ import annotations

import logging

from laketrace import capture_stdlib

from ..conftest import spool_records


def test_stdlib_records_arrive_with_source_stdlib(make_logger, log_dir):
    """Records of a captured stdlib logger land in the spool with source='stdlib'."""
    log = make_logger()
    cap = capture_stdlib(log, level="INFO", loggers=["my_app.db"])
    std = logging.getLogger("my_app.db")
    std.info("connected to %s", "warehouse", extra={"attempt": 2})
    line = std_call_line = None
    try:
        raise ConnectionError("gone")
    except ConnectionError:
        std_call_line = __import__("inspect").currentframe().f_lineno + 1
        std.exception("lost connection")
    std.debug("below level")
    cap.uninstall()
    std.warning("after uninstall")
    log.close()
    recs = spool_records(log_dir)
    assert [r["msg"] for r in recs] == ["connected to warehouse", "lost connection"]
    first, second = recs
    assert first["source"] == "stdlib" and first["logger"] == "my_app.db"
    assert first["level"] == "INFO" and first["context"] == {"attempt": "2"}
    assert first["function"] == "test_stdlib_records_arrive_with_source_stdlib"
    assert first["module"] == "test_stdlib"
    assert second["level"] == "ERROR" and second["line"] == std_call_line
    assert second["exception"]["class"] == "ConnectionError"
    assert "ConnectionError: gone" in second["traceback"]
    assert line is None


def test_stdlib_levels_map(make_logger):
    """stdlib levels map to LakeTrace levels, custom numbers to the nearest one below."""
    from laketrace.testing import capture_records

    log = make_logger(level="TRACE")
    cap = capture_stdlib(log, level="TRACE", loggers=["lv"])
    std = logging.getLogger("lv")
    with capture_records() as recs:
        for no in (5, 10, 20, 25, 30, 35, 40, 50):
            std.log(no, "x")
    cap.uninstall()
    assert [r.level for r in recs] == [
        "TRACE",
        "DEBUG",
        "INFO",
        "SUCCESS",
        "WARNING",
        "WARNING",
        "ERROR",
        "CRITICAL",
    ]


def test_propagation_through_two_captured_loggers_writes_once(make_logger, log_dir):
    """A record passing two captured loggers (child and parent) is written once."""
    log = make_logger()
    cap = capture_stdlib(log, loggers=["pyspark", "pyspark.sql"])
    logging.getLogger("pyspark.sql").warning("once")
    cap.uninstall()
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["once"]


def test_capture_again_replaces_previous(make_logger, log_dir):
    """Calling capture_stdlib again (a re-run cell) does not duplicate records."""
    log = make_logger()
    capture_stdlib(log, loggers=["rerun"])
    cap = capture_stdlib(log, loggers=["rerun"])
    logging.getLogger("rerun").warning("one copy")
    cap.uninstall()
    log.close()
    assert len(spool_records(log_dir)) == 1


def test_uninstall_restores_level(make_logger):
    """capture_stdlib lowers a logger's level if needed and uninstall restores it."""
    std = logging.getLogger("restore.me")
    std.setLevel(logging.ERROR)
    log = make_logger()
    cap = capture_stdlib(log, level="DEBUG", loggers=[std])
    assert std.level == logging.DEBUG
    cap.uninstall()
    assert std.level == logging.ERROR
