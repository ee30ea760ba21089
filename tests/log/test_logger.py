"""The logger API: levels, messages, fields, bind, contextualize, exceptions, lifecycle."""

from __future__ import annotations

import contextvars
import threading

import pytest

from laketrace import get_logger
from laketrace.log import registry
from laketrace.testing import capture_records

from ..conftest import spool_records


def test_levels_write_records_with_names_and_numbers(make_logger, log_dir):
    """Each level method writes a record with its level name and number."""
    log = make_logger(level="TRACE")
    for meth in ("trace", "debug", "info", "success", "warning", "error", "critical"):
        getattr(log, meth)(f"at {meth}")
    log.close()
    recs = spool_records(log_dir)
    assert [(r["level"], r["level_no"]) for r in recs] == [
        ("TRACE", 5),
        ("DEBUG", 10),
        ("INFO", 20),
        ("SUCCESS", 25),
        ("WARNING", 30),
        ("ERROR", 40),
        ("CRITICAL", 50),
    ]


def test_level_threshold_filters_calls(make_logger, log_dir):
    """Calls below the configured level write nothing."""
    log = make_logger(level="WARNING")
    log.debug("no")
    log.info("no")
    log.warning("yes")
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["yes"]


def test_format_args_and_fields(make_logger, log_dir):
    """Positional args fill str.format placeholders; keyword args become context fields."""
    log = make_logger()
    log.info("loaded {} rows into {}", 42, "sales", table="sales", n=3)
    log.info("rows={n}", n=7)
    log.close()
    first, second = spool_records(log_dir)
    assert first["msg"] == "loaded 42 rows into sales"
    assert first["context"] == {"table": "sales", "n": "3"}
    assert second["msg"] == "rows=7"


def test_bad_template_keeps_message_and_args(make_logger, log_dir):
    """A message that is not a valid template is kept as-is with the args appended."""
    log = make_logger()
    log.info('payload {"a": 1} and {}', "x")
    log.info("{} {}", "only-one")
    log.info("no placeholders", "extra")
    log.close()
    msgs = [r["msg"] for r in spool_records(log_dir)]
    assert msgs == ['payload {"a": 1} and {} x', "{} {} only-one", "no placeholders extra"]


def test_non_string_message_is_stringified(make_logger, log_dir):
    """Logging an object logs its str()."""
    log = make_logger()
    log.info({"a": 1})
    log.close()
    assert spool_records(log_dir)[0]["msg"] == "{'a': 1}"


def test_bind_adds_fields_and_shares_handlers(make_logger, log_dir):
    """bind() returns a logger that adds fields; call fields override bound ones."""
    log = make_logger()
    b = log.bind(request_id="r1", user="a")
    b.info("one", user="b")
    log.info("two")
    b.bind(step=1).info("three")
    log.close()
    recs = spool_records(log_dir)
    assert recs[0]["context"] == {"request_id": "r1", "user": "b"}
    assert recs[1]["context"] == {}
    assert recs[2]["context"] == {"request_id": "r1", "user": "a", "step": "1"}
    assert b.extra == {"request_id": "r1", "user": "a"}


def test_contextualize_scopes_fields(make_logger, log_dir):
    """contextualize adds fields inside the block only, and nests."""
    log = make_logger()
    with log.contextualize(step="extract"):
        log.info("a")
        with log.contextualize(part=2):
            log.info("b")
    log.info("c")
    log.close()
    assert [r["context"] for r in spool_records(log_dir)] == [
        {"step": "extract"},
        {"step": "extract", "part": "2"},
        {},
    ]


def test_contextualize_threads_need_copied_context(make_logger, log_dir):
    """A thread sees contextualized fields only when it runs in a copy of the context."""
    log = make_logger()
    with log.contextualize(job="j1"):
        plain = threading.Thread(target=lambda: log.info("plain"))
        copied = threading.Thread(target=contextvars.copy_context().run, args=(log.info, "copied"))
        plain.start()
        copied.start()
        plain.join()
        copied.join()
    log.close()
    by_msg = {r["msg"]: r["context"] for r in spool_records(log_dir)}
    assert by_msg == {"plain": {}, "copied": {"job": "j1"}}


def test_exception_attaches_traceback_and_struct(make_logger, log_dir):
    """exception() logs at ERROR with Spark-shaped exception struct and the traceback text."""
    log = make_logger()
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed", key="missing")
    log.error("explicit", exc_info=ValueError("bad value"))
    log.close()
    rec, explicit = spool_records(log_dir)
    assert rec["level"] == "ERROR"
    assert rec["exception"]["class"] == "KeyError"
    assert rec["exception"]["msg"] == "'missing'"
    frame = rec["exception"]["stacktrace"][-1]
    assert frame["method"] == "test_exception_attaches_traceback_and_struct"
    assert frame["line"].isdigit()
    assert "KeyError: 'missing'" in rec["traceback"]
    assert rec["context"] == {"key": "missing"}
    assert explicit["exception"]["class"] == "ValueError"


def test_exception_outside_except_block_logs_without_exception(make_logger, log_dir):
    """exception() with no active exception still logs the message at ERROR."""
    log = make_logger()
    log.exception("nothing active")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["level"] == "ERROR"
    assert rec["exception"] is None
    assert rec["traceback"] is None


def test_call_site_is_the_callers(make_logger, log_dir):
    """module/function/line point at the user's call, not LakeTrace internals."""
    log = make_logger()

    def where():
        log.info("here")
        return where.__code__.co_firstlineno + 1

    line = where()
    log.close()
    (rec,) = spool_records(log_dir)
    assert (rec["module"], rec["function"], rec["line"]) == (__name__, "where", line)


def test_same_name_and_config_returns_same_logger(log_dir):
    """A re-executed notebook cell gets the same logger and writes each record once."""
    cfg = {"log_dir": log_dir, "stdout": False}
    a = get_logger("cell.logger", cfg)
    b = get_logger("cell.logger", dict(cfg))
    assert a is b
    a.info("once")
    a.close()
    assert len(spool_records(log_dir)) == 1
    registry.forget("cell.logger")


def test_rerun_cell_does_not_duplicate_stdout(log_dir, capsys):
    """Re-running get_logger + add_handler with the same spec prints each record once."""
    for _ in range(3):
        log = get_logger("cell.stdout", {"log_dir": log_dir, "stdout": True})
        hid = log.add_handler({"sink": "stderr", "level": "WARNING"})
    log.warning("printed once")
    out = capsys.readouterr()
    assert out.out.count("printed once") == 1
    assert out.err.count("printed once") == 1
    assert isinstance(hid, int)
    log.close()
    registry.forget("cell.stdout")


def test_new_config_replaces_logger_and_seals_old_file(log_dir):
    """A different config for a known name replaces the logger; the old spool is sealed."""
    old = get_logger("replace.me", {"log_dir": log_dir, "stdout": False})
    old.info("old")
    new = get_logger("replace.me", {"log_dir": log_dir, "stdout": False, "level": "DEBUG"})
    assert new is not old
    new.debug("new")
    new.close()
    assert sorted(r["msg"] for r in spool_records(log_dir)) == ["new", "old"]
    registry.forget("replace.me")


def test_handler_ids_are_stable_ints(make_logger):
    """add_handler returns distinct ints; removing one leaves the others' ids intact."""
    log = make_logger()
    seen = []
    a = log.add_handler({"sink": seen.append, "format": "A {message}"})
    b = log.add_handler({"sink": seen.append, "format": "B {message}"})
    assert isinstance(a, int) and isinstance(b, int) and a != b
    log.remove_handler(a)
    assert b in log.handlers()
    log.info("x")
    assert seen == ["B x\n"]
    with pytest.raises(ValueError, match="no handler with id"):
        log.remove_handler(a)


def test_remove_all_handlers_makes_calls_noops(make_logger, log_dir):
    """After remove_all_handlers nothing is written anywhere."""
    log = make_logger()
    log.info("before")
    log.remove_all_handlers()
    log.info("after")
    assert log.handlers() == {}
    assert [r["msg"] for r in spool_records(log_dir)] == ["before"]


def test_close_seals_and_logger_stays_usable(make_logger, log_dir):
    """close() seals the active file; logging afterwards opens a new one."""
    log = make_logger()
    log.info("first")
    log.close()
    log.info("second")
    log.close()
    names = [n for n in __import__("os").listdir(log_dir) if n.endswith(".jsonl")]
    assert len(names) == 2 and all(n.endswith(".sealed.jsonl") for n in names)
    assert [r["msg"] for r in spool_records(log_dir)] == ["first", "second"]


def test_tail_prints_last_records(make_logger, capsys):
    """tail(n) prints the last n records human-formatted and returns them."""
    log = make_logger()
    for i in range(5):
        log.info("record {}", i)
    got = log.tail(2)
    out = capsys.readouterr().out
    assert [r["msg"] for r in got] == ["record 3", "record 4"]
    assert "record 4" in out and "record 2" not in out
    assert "| INFO     |" in out


def test_records_carry_identity_fields(make_logger, log_dir):
    """Records carry run_id, unique record_id, host, pid, runtime and source."""
    log = make_logger(run_id="run-42")
    log.info("a")
    log.info("b")
    log.close()
    a, b = spool_records(log_dir)
    assert a["run_id"] == "run-42" and a["source"] == "driver"
    assert a["record_id"] != b["record_id"]
    assert a["pid"] == __import__("os").getpid()
    assert a["runtime"] == "local"
    assert a["host"] and a["thread_name"] == "MainThread"
    assert a["app_id"] is None and a["job_id"] is None


def test_injected_clock_sets_ts(make_logger, log_dir, clock):
    """The ts column comes from the injected clock, as ISO-8601 UTC with microseconds."""
    log = make_logger(clock=clock)
    log.info("t0")
    clock.advance(1.5)
    log.info("t1")
    log.close()
    assert [r["ts"] for r in spool_records(log_dir)] == [
        "2025-11-28T13:20:00.000000Z",
        "2025-11-28T13:20:01.500000Z",
    ]


def test_log_by_level_name(make_logger):
    """log(level, ...) accepts names and numbers."""
    log = make_logger()
    with capture_records() as recs:
        log.log("warning", "w")
        log.log(40, "e")
    assert [(r.level, r.message) for r in recs] == [("WARNING", "w"), ("ERROR", "e")]


def test_filtered_level_methods_are_noops(make_logger):
    """Methods below the level are replaced by a no-op (the level decision is made once)."""
    log = make_logger(level="ERROR")
    assert type(log).debug.__name__ == "_noop"
    assert type(log).error.__name__ == "error"
    log.add_handler({"sink": lambda m: None, "level": "DEBUG"})
    assert type(log).debug.__name__ == "debug"
