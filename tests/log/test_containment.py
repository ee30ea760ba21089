"""No exception from a log call reaches the caller; a failed call still writes its record."""

from __future__ import annotations

import json
import logging

import pytest

import laketrace

from ..conftest import spool_records
from ..hostile_values import BadFormat, BadRepr


def test_failing_internal_step_still_writes_the_record(make_logger, log_dir, capsys):
    """An error inside the log call (here the injected clock) is reported once on stderr,
    counted, and the call's record is written with laketrace.error."""
    calls = []

    def clock():
        calls.append(1)
        raise RuntimeError("clock broke")

    log = make_logger(clock=clock)
    log.info("first {}", 1, k="v")
    log.warning("second")
    err = capsys.readouterr().err
    assert err.count("clock broke") == 1 and "keeps running" in err
    assert log._core.errors == 2
    log.close()
    recs = spool_records(log_dir)
    assert [r["msg"] for r in recs] == ["first 1", "second"]
    assert all("clock broke" in r["context"]["laketrace.error"] for r in recs)


def test_raising_str_and_format_of_args_do_not_raise(make_logger, log_dir):
    """Args whose __str__/__format__/__repr__ raise keep the call and name the value."""
    log = make_logger()
    log.info("a {}", BadFormat())
    log.info("b", BadRepr())
    log.info(BadRepr())
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == [
        "a {} BadFormat()",
        "b <unprintable BadRepr: Boom: boom>",
        "<unprintable BadRepr: Boom: boom>",
    ]


def test_spool_write_failure_on_the_fast_path_is_contained(make_logger, log_dir, capsys):
    """A failing spool write on the fast path is the spool handler's error: reported once
    and counted, never raised (catch=True)."""
    log = make_logger()
    core = log._core
    assert core.fast is not None

    def broken(line, ts):
        raise OSError("disk gone")

    core.fast.write = broken
    log.info("one")
    log.info("two")
    assert capsys.readouterr().err.count("disk gone") == 1
    assert core.spool._errors == 2 and core.errors == 0


def test_spool_write_failure_raises_with_catch_false(make_logger):
    """With catch=False the spool's own write error still reaches the caller."""
    log = make_logger(catch=False)

    def broken(line, ts):
        raise OSError("disk gone")

    log._core.fast.write = broken
    with pytest.raises(OSError, match="disk gone"):
        log.info("one")


def test_catch_false_handler_errors_propagate_but_others_do_not(make_logger, log_dir):
    """A catch=False sink's error propagates; the spool still got the record first."""
    log = make_logger()
    log.add_handler({"sink": lambda m: (_ for _ in ()).throw(ValueError("sink")), "catch": False})
    with pytest.raises(ValueError, match="sink"):
        log.info("kept")
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["kept"]


def test_handler_error_report_survives_an_exception_with_raising_repr(make_logger, capsys):
    """A sink raising an exception whose repr raises is still reported, not raised."""
    from ..hostile_values import BadExcStr

    log = make_logger()

    def sink(msg):
        raise BadExcStr()

    log.add_handler({"sink": sink})
    log.info("x")
    assert "<unprintable BadExcStr" in capsys.readouterr().err


def test_stdlib_record_with_bad_percent_args_keeps_its_text(make_logger, log_dir):
    """A stdlib call whose %-formatting fails is written with its args appended."""
    log = make_logger()
    cap = laketrace.capture_stdlib(log, loggers=["hostile.std"])
    std = logging.getLogger("hostile.std")
    std.propagate = False  # pytest's own capture handler re-raises formatting errors
    try:
        std.warning("%d items", "three")
        std.warning("odd exc_info", exc_info=(1, 2, 3))
        std.warning(BadRepr())
    finally:
        cap.uninstall()
        std.propagate = True
    log.close()
    recs = spool_records(log_dir)
    assert [r["msg"] for r in recs] == [
        "%d items three",
        "odd exc_info",
        "<unprintable BadRepr: Boom: boom>",
    ]
    assert json.loads(recs[1]["context"]["laketrace.unrenderable"]) == ["exc_info"]
