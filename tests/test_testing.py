"""laketrace.testing: users can assert on their own logging."""

from __future__ import annotations

from laketrace.testing import capture_records


def test_capture_records_collects_record_objects(make_logger):
    """capture_records yields Record objects with the documented attributes."""
    log = make_logger()
    with capture_records() as recs:
        log.bind(a=1).warning("w {}", 1, b=2)
    (r,) = recs
    assert r.level == "WARNING" and r.level.no == 30 and r.level_no == 30
    assert r.message == "w 1"
    assert r.logger_name == r.name == log.name
    assert r.extra == {"a": 1, "b": 2}
    assert r.timestamp.tzinfo is not None and r.timestamp.utcoffset().total_seconds() == 0
    assert r.exception is None
    assert r.thread_name == "MainThread" and isinstance(r.thread_id, int)
    assert r.pid > 0 and r.hostname
    assert r.module == __name__ and r.function == "test_capture_records_collects_record_objects"
    assert isinstance(r.line, int)


def test_capture_records_level_and_scope(make_logger):
    """Only records at the capture level and inside the block are collected."""
    log = make_logger(level="DEBUG")
    log.info("before")
    with capture_records(level="INFO") as recs:
        log.debug("too low")
        log.info("inside")
    log.info("after")
    assert [r.message for r in recs] == ["inside"]


def test_capture_sees_records_below_logger_handlers(make_logger):
    """Capturing at TRACE enables calls the logger's own handlers would filter."""
    log = make_logger(level="ERROR")
    with capture_records() as recs:
        log.debug("visible to the test")
    log.debug("invisible again")
    assert [r.message for r in recs] == ["visible to the test"]


def test_capture_exception_attribute(make_logger):
    """A captured exception record exposes (type, value, traceback)."""
    log = make_logger()
    with capture_records() as recs:
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("failed")
    exc = recs[0].exception
    assert exc.type is KeyError and isinstance(exc.value, KeyError) and exc.traceback
