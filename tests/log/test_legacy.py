"""LakeTrace 1.x configuration: every 1.x key maps to today's option with one
DeprecationWarning naming the new spelling, a 1.x key with its new spelling is refused,
typos stay errors, and 1.x value forms and record attributes keep working."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import warnings

import pytest

import laketrace
from laketrace.errors import ConfigError
from laketrace.log import legacy
from laketrace.log.config import parse_logger_config
from laketrace.sinks.rotation import parse_compression, parse_retention, parse_rotation
from laketrace.spool.names import list_spool

from ..conftest import spool_records

KEYS = [
    ({"rotation_mb": 10}, {"rotation": 10 * 1024 * 1024}, "{'rotation': '10 MiB'}"),
    ({"rotation_mb": 0.5}, {"rotation": 512 * 1024}, "{'rotation': '0.5 MiB'}"),
    ({"retention_files": 5}, {"retention": 5}, "{'retention': 5}"),
    ({"mask_pii": True}, {"redact": ["pii"]}, "{'redact': ['pii']}"),
    ({"mask_pii": False}, {}, "{'redact': ['pii']}"),
    ({"secure_file_permissions": True}, {"file_mode": 0o600}, "{'file_mode': 0o600}"),
    ({"secure_file_permissions": False}, {"file_mode": 0o644}, "{'file_mode': 0o644}"),
    ({"add_runtime_context": True}, {}, "remove it"),
    ({"add_runtime_context": False}, {}, "remove it"),
    ({"sanitize_messages": True}, {}, "remove it"),
    ({"sanitize_messages": False}, {}, "remove it"),
]


@pytest.mark.parametrize(("raw", "expected", "spelling"), KEYS)
def test_each_legacy_key_maps_with_one_warning_naming_the_new_spelling(raw, expected, spelling):
    """A 1.x key becomes today's option, with exactly one DeprecationWarning naming it."""
    with pytest.warns(DeprecationWarning) as caught:
        out = legacy.translate({"level": "INFO", "log_dir": "/tmp/lt", "json": False, **raw})
    assert out.config == {"level": "INFO", "log_dir": "/tmp/lt", "json": False, **expected}
    (warning,) = caught
    key = next(iter(raw))
    assert f"{key!r} is a LakeTrace 1.x key" in str(warning.message)
    assert spelling in str(warning.message)


def test_the_warning_points_at_the_callers_get_logger_line(log_dir):
    """The DeprecationWarning is attributed to the user's get_logger call, not LakeTrace."""
    with pytest.warns(DeprecationWarning) as caught:
        log = laketrace.get_logger("legacy.where", {"log_dir": log_dir, "rotation_mb": 1})
    log.close()
    assert [os.path.basename(w.filename) for w in caught] == ["test_legacy.py"]


def test_a_full_1x_config_warns_once_per_legacy_key(log_dir):
    """Every legacy key of one config warns once; current keys do not warn."""
    config = {
        "log_dir": log_dir, "rotation_mb": 10, "retention_files": 5, "level": "INFO",
        "json": True, "serialize": False, "stdout": False, "compression": "none",
        "add_runtime_context": True, "enqueue": False, "catch": True, "filter": None,
        "formatter": None, "format": None, "sanitize_messages": True, "mask_pii": False,
        "secure_file_permissions": True,
    }  # fmt: skip
    with pytest.warns(DeprecationWarning) as caught:
        cfg = parse_logger_config(config, "local")
    assert len(caught) == 6
    assert cfg.handler.rotation is not None and cfg.handler.rotation.size == 10 * 1024 * 1024
    assert cfg.handler.retention is not None and cfg.handler.retention.count == 5
    assert cfg.handler.compression is None and cfg.handler.file_mode == 0o600
    assert cfg.redact is None and cfg.sanitize is not None


@pytest.mark.parametrize(
    ("raw", "new"),
    [
        ({"rotation_mb": 10, "rotation": "5 MB"}, "rotation"),
        ({"retention_files": 5, "retention": "7 days"}, "retention"),
        ({"mask_pii": True, "redact": True}, "redact"),
        ({"mask_pii": False, "redact": ["pii"]}, "redact"),
        ({"secure_file_permissions": True, "file_mode": 0o640}, "file_mode"),
    ],
)
def test_a_legacy_key_with_its_new_spelling_is_a_config_error(raw, new, log_dir):
    """Giving both spellings is a ConfigError naming both (which would win?)."""
    with pytest.raises(ConfigError, match=rf"'{next(iter(raw))}' \(LakeTrace 1.x\) and '{new}'"):
        laketrace.get_logger("legacy.both", {"log_dir": log_dir, **raw})


def test_a_new_key_set_to_none_does_not_conflict(log_dir):
    """1.x configs carried ``rotation: None`` next to ``rotation_mb``: that is not a conflict."""
    with pytest.warns(DeprecationWarning):
        cfg = parse_logger_config({"log_dir": log_dir, "rotation_mb": 1, "rotation": None}, "")
    assert cfg.handler.rotation is not None and cfg.handler.rotation.size == 1024 * 1024


@pytest.mark.parametrize(
    "raw",
    [
        {"rotation_mb": 0},
        {"rotation_mb": -1},
        {"rotation_mb": True},
        {"rotation_mb": "10"},
        {"retention_files": 0},
        {"retention_files": 2.5},
        {"mask_pii": "yes"},
        {"secure_file_permissions": 1},
        {"add_runtime_context": None},
        {"sanitize_messages": "true"},
    ],
)
def test_bad_legacy_values_are_config_errors(raw):
    """A 1.x key with a bad value is a ConfigError naming the key."""
    with pytest.raises(ConfigError, match=repr(next(iter(raw)))):
        legacy.translate(raw, warn=False)


@pytest.mark.parametrize("typo", ["rotation_mbs", "retention_file", "mask_pi", "sanitise_messages"])
def test_keys_that_are_neither_current_nor_1x_stay_errors(typo, log_dir):
    """A typo of a 1.x key is an unknown key, not silently accepted."""
    with pytest.raises(ConfigError, match=f"unknown key '{typo}'"):
        laketrace.get_logger("legacy.typo", {"log_dir": log_dir, typo: 1})


def test_1x_value_forms():
    """'5 files', 'yearly', float sizes and compression 'none' are accepted."""
    assert parse_retention("5 files").count == 5  # type: ignore[union-attr]
    assert parse_retention("1 file").count == 1  # type: ignore[union-attr]
    yearly = parse_rotation("yearly")
    opened = dt.datetime(2026, 11, 28, 13, 0, tzinfo=dt.timezone.utc).timestamp()
    assert yearly is not None
    assert yearly.next_at(opened) == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert parse_rotation(1024.0).size == 1024  # type: ignore[union-attr]
    assert parse_rotation("1.5 KB").size == 1500  # type: ignore[union-attr]
    assert parse_compression("none") is None and parse_compression("None") is None
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="a size must be positive"):
            parse_rotation(bad)
    with pytest.raises(ConfigError):
        parse_retention("0 files")


def test_timestamp_format_field_is_time(make_logger, capsys):
    """The 1.x template field {timestamp} renders like {time}."""
    log = make_logger(stdout=True, format="{timestamp}|{time}|{level:8}|{logger_name}|{message}")
    log.info("hello")
    out = capsys.readouterr().out.strip()
    stamp, time_, level, name, msg = out.split("|")
    assert stamp == time_ and level == "INFO    " and name == log.name and msg == "hello"


def test_record_reads_like_a_1x_record(make_logger):
    """Filters and formatters see level.name/.value/.no, process_id and the exception."""
    seen = []

    def keep(record):
        seen.append(record)
        return True

    log = make_logger(filter=keep)
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("failed")
    (rec,) = seen
    assert rec.level == "ERROR" and rec.level.name == "ERROR" and type(rec.level.name) is str
    assert rec.level.value == rec.level.no == 40
    assert rec.process_id == rec.pid == os.getpid()
    assert isinstance(rec.exception.value, KeyError)
    assert str(rec.exception) == str(KeyError("missing")) and rec.exception.args == ("missing",)
    assert rec.exception.__traceback__ is rec.exception.value.__traceback__


def _count(log_dir):
    return len(spool_records(log_dir)), len(list_spool(log_dir))


@pytest.mark.parametrize(
    "rotation",
    [
        lambda r: False,
        lambda r: r.message == "m2",
        lambda: False,
        lambda r, f: f.tell() > 10**9 or f.name == "",
        lambda r, f, *more: False,
    ],
)
def test_rotation_callables_of_any_arity_keep_every_record(make_logger, log_dir, rotation):
    """A rotation callable taking (record), nothing, or (record, file_info) never drops a
    record (1.x-style one-argument callables used to lose 4 of 5)."""
    log = make_logger(rotation=rotation)
    for i in range(5):
        log.info("m{}", i)
    log.close()
    assert _count(log_dir)[0] == 5


def test_a_one_argument_rotation_callable_still_rotates(make_logger, log_dir):
    """A (record) -> bool callable decides rotation like a two-argument one."""
    log = make_logger(rotation=lambda r: r.message == "m2")
    for i in range(5):
        log.info("m{}", i)
    log.close()
    assert _count(log_dir) == (5, 2)


def test_a_rotation_callable_needing_three_arguments_is_refused(make_logger):
    """A callable that cannot take (record, file_info) is a ConfigError at get_logger."""
    with pytest.raises(ConfigError, match="rotation callable"):
        make_logger(rotation=lambda a, b, c: False)


@pytest.mark.parametrize("enqueue", [False, True])
def test_raising_rotation_callable_or_filter_never_costs_a_record(
    make_logger, log_dir, enqueue, capfd
):
    """A filter or rotation callable that raises keeps the record (reported once on stderr)."""
    log = make_logger(rotation=lambda r, f: 1 / 0, filter=lambda r: {}["x"], enqueue=enqueue)
    for i in range(5):
        log.info("m{}", i)
    log.close()
    assert _count(log_dir)[0] == 5
    lines = capfd.readouterr().err.splitlines()
    # once per handler (the report may reach both the real and the captured stderr)
    for what in ("the filter raised KeyError", "the rotation callable"):
        said = [line for line in lines if what in line]
        assert len(set(said)) == 1 and len(said) <= 2, said


def test_raising_filter_on_an_added_handler_keeps_the_record(make_logger):
    """The filter rule holds for every handler, not only the spool."""
    got = []
    log = make_logger()
    log.add_handler({"sink": got.append, "filter": lambda r: 1 / 0})
    log.info("kept")
    assert [m.record.message for m in got] == ["kept"]


def test_raising_filter_with_catch_false_raises(make_logger):
    """catch=False makes a raising filter raise, as every handler error does."""
    log = make_logger()
    log.add_handler({"sink": lambda m: None, "filter": lambda r: 1 / 0, "catch": False})
    with pytest.raises(ZeroDivisionError):
        log.info("x")


def test_sanitize_messages_escapes_newlines_everywhere(make_logger, log_dir, capsys):
    """sanitize_messages=True escapes newlines, CR and NUL in every message (spool and
    terminal), as 1.x did; fields are left alone."""
    with pytest.warns(DeprecationWarning):
        log = make_logger(sanitize_messages=True, stdout=True, json=False)
    log.info("user\nINFO forged line\r\x00", field="a\nb")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["msg"] == "user\\nINFO forged line\\r\\x00"
    assert rec["context"] == {"field": "a\nb"}
    assert "user\\nINFO forged line" in capsys.readouterr().out


def test_sanitize_messages_false_keeps_messages(make_logger, log_dir):
    """sanitize_messages=False keeps the message as written (today's default)."""
    with pytest.warns(DeprecationWarning):
        log = make_logger(sanitize_messages=False)
    log.info("a\nb")
    log.close()
    assert spool_records(log_dir)[0]["msg"] == "a\nb"


@pytest.mark.parametrize(("secure", "mode"), [(True, 0o600), (False, 0o644)])
def test_secure_file_permissions_sets_the_file_mode(make_logger, log_dir, secure, mode):
    """secure_file_permissions True/False writes spool files 0600/0644."""
    with pytest.warns(DeprecationWarning):
        log = make_logger(secure_file_permissions=secure)
    log.info("x")
    log.close()
    ((path, _),) = list_spool(log_dir)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


def test_add_runtime_context_changes_nothing(make_logger, log_dir):
    """add_runtime_context is accepted; records carry the runtime columns either way."""
    with pytest.warns(DeprecationWarning):
        log = make_logger(add_runtime_context=False)
    log.info("x")
    log.close()
    rec = spool_records(log_dir)[0]
    assert rec["runtime"] == "local" and rec["host"] and rec["pid"] == os.getpid()


def test_text_helpers():
    """sanitize_message escapes newlines and doubles format braces; escape_newlines and
    escape_format_strings do one each."""
    assert laketrace.sanitize_message("a\nb\rc\x00") == "a\\nb\\rc\\x00"
    assert laketrace.sanitize_message("{user}\n") == "{{user}}\\n"
    assert laketrace.escape_newlines("{x}") == "{x}"
    assert laketrace.escape_newlines("x\ny") == "x\\ny"
    assert laketrace.sanitize_message(42) == "42"
    assert laketrace.escape_format_strings("{user} }") == "{{user}} }}"
    assert laketrace.escape_format_strings("{x}").format() == "{x}"


def test_translate_without_legacy_keys_warns_nothing():
    """Today's configs pass through translate untouched and silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert legacy.translate({"level": "INFO"}) == ({"level": "INFO"}, False)


@pytest.mark.parametrize("key", sorted(legacy.LEGACY_KEYS))
def test_a_1x_config_keeps_1x_defaults(key, monkeypatch, capsys, tmp_path):
    """A config using any 1.x key gets 1.x's defaults for the keys it leaves out:
    log_dir /tmp/laketrace_logs, JSON lines on stdout, and newlines escaped in messages."""
    monkeypatch.delenv("LAKETRACE_LOG_DIR", raising=False)
    assert legacy.LEGACY_LOG_DIR == "/tmp/laketrace_logs"
    monkeypatch.setattr(legacy, "LEGACY_LOG_DIR", str(tmp_path / "laketrace_logs"))
    value = {"rotation_mb": 10, "retention_files": 5}.get(key, True)
    with pytest.warns(DeprecationWarning) as caught:
        log = laketrace.create_logger(f"legacy.defaults.{key}", {key: value})
    assert len(caught) == 1
    log.info("a\nb", user="u")
    log.close()
    assert log.log_dir == legacy.LEGACY_LOG_DIR
    line = [x for x in capsys.readouterr().out.splitlines() if "user" in x][-1]
    assert json.loads(line)["msg"] == "a\\nb" and json.loads(line)["user"] == "u"


def test_1x_defaults_yield_to_explicit_keys_and_the_environment(log_dir, monkeypatch):
    """Explicit log_dir/json/sanitize_messages and LAKETRACE_LOG_DIR win over 1.x defaults;
    a config without 1.x keys keeps today's defaults."""
    with pytest.warns(DeprecationWarning):
        out = legacy.translate({"log_dir": log_dir, "json": False, "sanitize_messages": False})
    assert out == ({"log_dir": log_dir, "json": False}, False)
    monkeypatch.setenv("LAKETRACE_LOG_DIR", log_dir)
    with pytest.warns(DeprecationWarning):
        assert "log_dir" not in legacy.translate({"rotation_mb": 1, "serialize": True}).config
    assert legacy.translate({"level": "INFO"}).config == {"level": "INFO"}
