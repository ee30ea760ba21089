"""Sinks: stdout/stderr text and JSON, callables, plain files; per-handler options; catch."""

from __future__ import annotations

import json
import os

import pytest

from ..conftest import spool_records


def test_stdout_human_text_by_default(make_logger, capsys):
    """The stdout sink prints a human line with level, call site, message and fields."""
    log = make_logger(stdout=True)
    log.bind(user="a").warning("disk {}% full", 93)
    out = capsys.readouterr().out
    assert "| WARNING  |" in out
    assert "test_stdout_human_text_by_default" in out
    assert "disk 93% full | user=a" in out
    assert out.endswith("\n") and out.count("\n") == 1


def test_stdout_json_puts_fields_at_top_level(make_logger, capsys):
    """json=True prints compact JSON with bound and call fields as top-level keys."""
    log = make_logger(stdout=True, json=True)
    log.bind(request_id="r1").info("hello", n=3)
    obj = json.loads(capsys.readouterr().out)
    assert obj["msg"] == "hello" and obj["level"] == "INFO"
    assert obj["request_id"] == "r1" and obj["n"] == 3


def test_stdout_serialize_prints_full_lake_record(make_logger, capsys):
    """serialize=True prints the full lake record, the same as the spool line."""
    log = make_logger(stdout=True, serialize=True)
    log.info("full", k="v")
    obj = json.loads(capsys.readouterr().out)
    assert obj["context"] == {"k": "v"}
    assert {"record_id", "run_id", "host", "pid", "module", "line", "source"} <= set(obj)


def test_stream_sink_follows_replaced_sys_stdout(make_logger, capsys, monkeypatch):
    """The stream sink looks sys.stdout up at write time (notebooks replace it per cell)."""
    import io
    import sys

    log = make_logger(stdout=True)
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)
    log.info("into the new stream")
    assert "into the new stream" in replacement.getvalue()


def test_callable_sink_gets_message_with_record(make_logger):
    """A callable sink receives the rendered text with .record attached."""
    log = make_logger()
    got = []
    log.add_handler({"sink": got.append})
    log.info("hi {}", "there", k=1)
    (msg,) = got
    assert "hi there" in msg
    assert msg.record.message == "hi there"
    assert msg.record.extra == {"k": 1}


def test_file_path_sink_writes_text_with_mode_0600(make_logger, tmp_path):
    """A plain file path sink writes human lines and creates the file with mode 0600."""
    log = make_logger()
    path = tmp_path / "logs" / "app.log"
    log.add_handler({"sink": str(path)})
    log.info("to the file")
    log.flush()
    text = path.read_text()
    assert "to the file" in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_file_mode_is_configurable(make_logger, tmp_path):
    """file_mode changes the permission bits of created files."""
    log = make_logger()
    path = tmp_path / "shared.log"
    log.add_handler({"sink": str(path), "file_mode": 0o640})
    log.info("x")
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_file_sink_json(make_logger, tmp_path):
    """A file sink with json=True writes one JSON object per line."""
    log = make_logger()
    path = tmp_path / "app.jsonl"
    log.add_handler({"sink": str(path), "json": True})
    log.info("a", x=1)
    log.info("b")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["msg"] for x in lines] == ["a", "b"] and lines[0]["x"] == 1


def test_per_handler_level(make_logger, log_dir):
    """Each handler has its own level; the spool keeps the logger level."""
    log = make_logger(level="DEBUG")
    got = []
    log.add_handler({"sink": got.append, "level": "ERROR", "format": "{message}"})
    log.debug("d")
    log.error("e")
    log.close()
    assert got == ["e\n"]
    assert [r["msg"] for r in spool_records(log_dir)] == ["d", "e"]


def test_per_handler_filter_forms(make_logger):
    """filter accepts a callable, a logger-name prefix, or {prefix: level}."""
    log = make_logger("app.etl")
    other = make_logger("other")
    by_call, by_prefix, by_dict = [], [], []
    log.add_handler(
        {"sink": by_call.append, "format": "{message}", "filter": lambda r: "keep" in r.message}
    )
    log.add_handler({"sink": by_prefix.append, "format": "{message}", "filter": "app"})
    other.add_handler({"sink": by_prefix.append, "format": "{message}", "filter": "app"})
    log.add_handler({"sink": by_dict.append, "format": "{message}", "filter": {"app": "WARNING"}})
    log.info("keep me")
    log.info("drop me")
    log.warning("warn")
    other.info("other")
    assert by_call == ["keep me\n"]
    assert by_prefix == ["keep me\n", "drop me\n", "warn\n"]
    assert by_dict == ["warn\n"]


def test_formatter_and_format(make_logger):
    """formatter (callable) and format (template) control a text sink's output."""
    log = make_logger()
    a, b = [], []
    log.add_handler({"sink": a.append, "formatter": lambda r: f"<{r.level}:{r.message}>"})
    log.add_handler(
        {"sink": b.append, "format": "{level} {name} {extra[k]} {function}:{line} {message}"}
    )
    log.info("m", k="v")
    assert a == ["<INFO:m>\n"]
    assert b[0].startswith("INFO " + log.name + " v test_formatter_and_format:")


def test_raising_filter_is_reported_once_and_logging_continues(make_logger, log_dir, capsys):
    """With catch=True a raising filter is reported once on stderr with the handler id."""
    log = make_logger()

    def bad_filter(record):
        raise RuntimeError("filter bug")

    hid = log.add_handler({"sink": lambda m: None, "filter": bad_filter})
    log.info("one")
    log.info("two")
    err = capsys.readouterr().err
    assert err.count("filter bug") == 1
    assert f"handler {hid}" in err
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == ["one", "two"]


def test_raising_formatter_with_catch_false_raises(make_logger):
    """With catch=False a raising formatter propagates to the caller."""
    log = make_logger()

    def bad(record):
        raise RuntimeError("formatter bug")

    log.add_handler({"sink": lambda m: None, "formatter": bad, "catch": False})
    with pytest.raises(RuntimeError, match="formatter bug"):
        log.info("boom")


def test_raising_callable_sink_is_contained(make_logger, capsys):
    """A callable sink that raises does not break the application (catch=True)."""
    log = make_logger()

    def sink(msg):
        raise OSError("sink down")

    log.add_handler({"sink": sink})
    log.info("still fine")
    assert "sink down" in capsys.readouterr().err
