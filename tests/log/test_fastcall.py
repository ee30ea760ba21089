"""The level methods generated for a spool-only logger (`laketrace.log.fastcall`): the same
lines as the general path, and replaced whenever the handler set changes."""

from __future__ import annotations

import dis
import re
import sys
import threading

import pytest

from laketrace.log import logger as _logger
from laketrace.log.context import contextualize, set_job_context
from laketrace.record import encoding
from laketrace.record.levels import LEVELS
from laketrace.record.record import JobContext
from tests.conftest import spool_lines, spool_records

_RID = re.compile(rb'"record_id":"[^"]*"')
_INFO = LEVELS["INFO"]


def _site(method, view, msg, *args, **fields):
    """One call site for both methods, so module, function and line agree."""
    method(view, msg, *args, **fields)


CALLS = [
    ("processed item", (), {"item": 7}),
    ("no fields", (), {}),
    ('héllo "quoted" \\ \n\t ☃', (), {"user": "shadows the bound one", "n": -3}),
    ("odd values", (), {"f": 0.5, "b": True, "z": None, "d": {"k": [1, 2]}, "big": 10**30}),
    ("lone \ud800 surrogate", (), {"k": "v\udfff"}),
    ("with {} args", (5,), {"table": "sales"}),
    ("named {table}", (), {"table": "sales"}),
    ("with exc_info", (), {"exc_info": ValueError("boom")}),
    (12345, (), {"x": "not a str message"}),
]


@pytest.fixture(params=["orjson", "json"])
def backend(request):
    """Run the test with each JSON backend."""
    if request.param == "orjson" and encoding._orjson is None:
        pytest.skip("orjson is not installed")
    before = encoding.BACKEND
    encoding.set_backend(request.param)
    yield request.param
    encoding.set_backend(before)


def _pairs(log_dir):
    lines = [_RID.sub(b'"record_id":"-"', line) for line in spool_lines(log_dir)]
    return lines[0::2], lines[1::2]


def test_generated_methods_write_what_the_general_path_writes(make_logger, log_dir, clock, backend):
    """Each call through the generated method gives the same bytes as through `Core.emit`,
    apart from the record id, on both JSON backends."""
    log = make_logger(clock=clock)
    view = log.bind(user="alice", step=1)
    fast = type(view).info
    assert fast is not _logger._LEVEL_METHODS[_INFO]
    for msg, args, fields in CALLS:
        _site(fast, view, msg, *args, **dict(fields))
        _site(_logger._LEVEL_METHODS[_INFO], view, msg, *args, **dict(fields))
    log.close()
    fast_lines, general_lines = _pairs(log_dir)
    assert len(fast_lines) == len(CALLS)
    assert fast_lines == general_lines


def test_context_job_and_threads_give_the_general_paths_lines(make_logger, log_dir, clock):
    """Calls inside `contextualize`, under a Spark job context and from other (renamed)
    threads give the same lines through the generated method as through `Core.emit`."""
    log = make_logger(clock=clock)
    general = _logger._LEVEL_METHODS[_INFO]
    with contextualize(request="r1"):
        _site(type(log).info, log, "in context", item=1)
        _site(general, log, "in context", item=1)
    set_job_context(JobContext(job_id=3, job_group="etl"))
    try:
        _site(type(log).info, log, "in a job")
        _site(general, log, "in a job")
    finally:
        set_job_context(None)

    def worker():
        for name in ("worker-a", "worker-b"):
            threading.current_thread().name = name
            _site(type(log).info, log, "from a thread")
            _site(general, log, "from a thread")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    log.close()
    fast_lines, general_lines = _pairs(log_dir)
    assert fast_lines == general_lines and len(fast_lines) == 4
    assert b'"request":"r1"' in fast_lines[0] and b'"job_id":3' in fast_lines[1]
    assert b'"worker-a"' in fast_lines[2] and b'"worker-b"' in fast_lines[3]


def test_generated_methods_follow_the_handler_set(make_logger, log_dir):
    """Adding a handler switches the logger to the general methods (every handler gets the
    record) and removing it switches back."""
    log = make_logger()
    spool_only = type(log).info
    seen = []
    hid = log.add_handler({"sink": seen.append, "format": "{message}"})
    assert type(log).info is _logger._LEVEL_METHODS[_INFO]
    log.info("both")
    log.remove_handler(hid)
    assert type(log).info is not _logger._LEVEL_METHODS[_INFO]
    assert type(log).info is not spool_only  # made again for the new handler set
    log.info("spool only")
    log.debug("filtered")
    log.close()
    assert [line.strip() for line in seen] == ["both"]
    assert [b'"msg":"both"' in x or b'"msg":"spool only"' in x for x in spool_lines(log_dir)] == [
        True,
        True,
    ]


def test_timestamps_across_milliseconds_match_iso_utc(make_logger, log_dir, clock):
    """The generated method's cached timestamp start gives `iso_utc`'s text across
    milliseconds, seconds and microsecond rounding."""
    log = make_logger(clock=clock)
    start = clock.now
    offsets = [0.0, 0.0004994, 0.0004996, 0.001, 0.0019999996, 0.9999996, 1.0, 0.5, 86400.25]
    for offset in offsets:
        clock.now = start + offset
        _site(type(log).info, log, "tick")
        _site(_logger._LEVEL_METHODS[_INFO], log, "tick")
    log.close()
    fast_lines, general_lines = _pairs(log_dir)
    assert fast_lines == general_lines and len(fast_lines) == len(offsets)
    assert len({line[:40] for line in fast_lines}) > 5


def test_a_saved_bound_method_follows_the_handler_set(make_logger, log_dir):
    """``info = log.info`` saved while only the spool listens still reaches a handler added
    later, and no longer writes to a spool that was removed."""
    log = make_logger()
    info = log.info
    seen = []
    log.add_handler({"sink": seen.append, "format": "{message}"})
    info("after add")
    (spool_id,) = [hid for hid, desc in log.handlers().items() if desc.startswith("spool")]
    log.remove_handler(spool_id)
    info("after the spool was removed")
    assert [line.strip() for line in seen] == ["after add", "after the spool was removed"]
    assert [b'"msg":"after add"' in line for line in spool_lines(log_dir)] == [True]


class _HashRaises(str):
    def __hash__(self):
        raise RuntimeError("hash")


class _Named:
    def __str__(self):
        return _HashRaises("odd-thread")


def test_a_thread_name_of_a_str_subclass_gives_the_general_line(make_logger, log_dir, clock):
    """A thread named by a str subclass whose hash raises is logged as `Core.emit` logs it,
    not as a failed call."""
    log = make_logger(clock=clock)

    def worker():
        _site(type(log).info, log, "odd thread")
        _site(_logger._LEVEL_METHODS[_INFO], log, "odd thread")

    t = threading.Thread(target=worker)
    t.name = _Named()
    t.start()
    t.join()
    log.close()
    fast_lines, general_lines = _pairs(log_dir)
    assert fast_lines == general_lines and b'"odd-thread"' in fast_lines[0]
    assert log._core.errors == 0


def _interrupt_at(code, n):
    """A tracer raising KeyboardInterrupt in ``code`` where CPython delivers a signal: the
    ``n``-th time an instruction follows a call (the interpreter checks for signals as a
    call returns)."""
    calls = {i.offset for i in dis.get_instructions(code) if i.opname == "CALL"}
    seen = [0, -1]

    def local(frame, event, arg):
        if event == "opcode":
            after_call = seen[1] in calls
            seen[1] = frame.f_lasti
            if after_call:
                seen[0] += 1
                if seen[0] == n:
                    raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        if frame.f_code is code:
            frame.f_trace_opcodes = True
            return local
        return None

    return tracer


def _interrupt_each_point(log, code, then) -> int:
    """Log with a KeyboardInterrupt at the n-th point of ``code`` where CPython delivers it,
    for n = 1, 2, ... until a call runs through (``then(n)`` after each interrupted call);
    returns that n."""
    n = 1
    while n < 200:
        sys.settrace(_interrupt_at(code, n))
        try:
            log.info("interrupted", n=n)
        except KeyboardInterrupt:
            pass
        else:
            return n
        finally:
            sys.settrace(None)
        then(n)
        n += 1
    return n


def test_an_interrupt_anywhere_in_a_generated_method_leaves_the_spool_lock_free(make_logger):
    """A KeyboardInterrupt (a cancelled notebook cell) wherever it can arrive in the generated
    method leaves the spool's lock released, so later calls and close() do not hang."""
    log = make_logger()
    sink = log._core.spool.file
    log.info("opens the file")

    def lock_is_free(n: int) -> None:
        held = sink.lock.locked()
        if held:
            sink.lock.release()  # let the fixture close the logger
        assert not held, f"lock held after an interrupt at call return {n}"

    assert _interrupt_each_point(log, type(log).info.__code__, lock_is_free) > 10


@pytest.mark.parametrize("path", ["generated", "sink"])
def test_an_interrupt_anywhere_in_a_mapped_copy_loses_no_later_record(
    make_logger, log_dir, path, monkeypatch
):
    """A KeyboardInterrupt wherever it can arrive while a line is copied into the mapping
    (generated method, or `FileSink.write` under a masking logger) costs at most the
    interrupted record: every later record of the file is written, across segments."""
    from laketrace.sinks import mmap_segment
    from laketrace.sinks.file_sink import FileSink

    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 8192)
    log = make_logger(redact=True) if path == "sink" else make_logger()
    code = FileSink.write.__code__ if path == "sink" else type(log).info.__code__
    log.info("opens the file")
    n = _interrupt_each_point(log, code, lambda n: log.info("after", n=n))
    assert n > 2
    for i in range(200):  # past the end of the first 8 KiB segment
        log.info("after", n=n + i, pad="z" * 100)
    log.close()
    records = [r for r in spool_records(log_dir) if r["msg"] == "after"]
    assert [int(r["context"]["n"]) for r in records] == list(range(1, n + 200))


def test_msg_level_and_self_are_fields_not_errors(make_logger, log_dir):
    """Fields named like the level methods' parameters (msg, self, level) are fields: the
    call neither raises nor drops the record, on the generated and the general path."""
    fast = make_logger()
    general = make_logger(stdout=True)
    for log in (fast, general):
        log.info("a", msg=1, self=2)
        log.log("INFO", "b", level="x", msg=3)
        log.bind(u=1).warning("c", msg="m")
        log.exception("d", msg=4)
        log.info(msg="kw", n=5)  # a keyword message (before it became positional-only)
        log.log(level="WARNING", msg="lv")
        log.debug(msg="filtered")
    by_msg = {}
    for r in spool_records(log_dir):
        by_msg.setdefault(r["msg"], []).append(r["context"])
    assert [c["msg"] for c in by_msg["a"]] == ["1", "1"] and by_msg["a"][0]["self"] == "2"
    assert [c["level"] for c in by_msg["b"]] == ["x", "x"]
    assert len(by_msg["c"]) == 2 and len(by_msg["d"]) == 2
    assert [c["n"] for c in by_msg["kw"]] == ["5", "5"] and len(by_msg["lv"]) == 2
    assert {r["level"] for r in spool_records(log_dir) if r["msg"] == "lv"} == {"WARNING"}


def test_an_interrupt_as_the_segment_is_remapped_loses_no_later_record(
    make_logger, log_dir, monkeypatch
):
    """A KeyboardInterrupt as `Segment.reserve` returns (the old view closed, the new one not
    yet armed) costs at most that record: the fast path never copies into the closed view."""
    from laketrace.sinks import mmap_segment

    monkeypatch.setattr(mmap_segment, "SEGMENT_BYTES", 8192)
    real = mmap_segment.Segment.reserve
    armed = [False]

    def reserve(self, used, need):
        view = real(self, used, need)
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt
        return view

    monkeypatch.setattr(mmap_segment.Segment, "reserve", reserve)
    log = make_logger()
    sink = log._core.spool.file
    log.info("opens the file")
    n = 0
    while sink.size + 3000 <= sink._room:
        n += 1
        log.info("after", n=n)
    armed[0] = True
    with pytest.raises(KeyboardInterrupt):
        log.info("interrupted", pad="z" * 3000)
    for i in range(50):
        log.info("after", n=n + 1 + i)
    log.close()
    records = [r for r in spool_records(log_dir) if r["msg"] == "after"]
    assert [int(r["context"]["n"]) for r in records] == list(range(1, n + 51))
    assert log._core.errors == 0
