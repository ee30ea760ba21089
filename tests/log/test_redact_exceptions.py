"""Redaction of exceptions: the message, chain and traceback of every way an exception reaches a
record are masked in the spool columns and in every other sink, and filters and formatters see
the masked rendering."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import laketrace
from laketrace.record.record import RenderedException

from ..conftest import spool_records

SECRET = "hunter2-Xq9"  # masked by the key_value pattern wherever it follows "password="


def _raise_plain() -> None:
    raise ValueError(f"connect failed: password={SECRET}")


def _raise_chained() -> None:
    try:
        _raise_plain()
    except ValueError as exc:
        raise RuntimeError("could not load the table") from exc


def _raise_context() -> None:
    try:
        _raise_plain()
    except ValueError:
        {}["missing"]  # the KeyError carries the ValueError as __context__


def _log_exception(log: Any) -> None:
    try:
        _raise_plain()
    except ValueError:
        log.exception("load failed")


def _log_exc_info_true(log: Any) -> None:
    try:
        _raise_plain()
    except ValueError:
        log.error("load failed", exc_info=True)


def _log_exc_info_instance(log: Any) -> None:
    try:
        _raise_plain()
    except ValueError as exc:
        caught = exc
    log.error("load failed", exc_info=caught)  # outside the except block


def _log_exc_info_tuple(log: Any) -> None:
    try:
        _raise_plain()
    except ValueError:
        info = sys.exc_info()
    log.warning("load failed", exc_info=info)


def _log_chained(log: Any) -> None:
    try:
        _raise_chained()
    except RuntimeError:
        log.exception("load failed")


def _log_implicit_context(log: Any) -> None:
    try:
        _raise_context()
    except KeyError:
        log.exception("load failed")


def _log_stdlib_exception(log: Any) -> None:
    laketrace.capture_stdlib(log, loggers=["redact.app"])
    try:
        _raise_plain()
    except ValueError:
        logging.getLogger("redact.app").exception("load failed")


def _log_stdlib_exc_info(log: Any) -> None:
    laketrace.capture_stdlib(log, loggers=["redact.app2"])
    try:
        _raise_chained()
    except RuntimeError:
        logging.getLogger("redact.app2").error("load failed", exc_info=True)


WAYS: dict[str, Callable[[Any], None]] = {
    "log.exception": _log_exception,
    "exc_info=True": _log_exc_info_true,
    "exc_info=instance": _log_exc_info_instance,
    "exc_info=sys.exc_info()": _log_exc_info_tuple,
    "raise from": _log_chained,
    "implicit context": _log_implicit_context,
    "stdlib .exception": _log_stdlib_exception,
    "stdlib exc_info=True": _log_stdlib_exc_info,
}


def _all_sinks(make_logger: Any, tmp_path: Path, **config: Any) -> tuple[Any, dict[str, Any]]:
    """A redacting logger with stdout, a JSON stream, callables, a text file and templates."""
    log = make_logger(**{"redact": True, "stdout": True, **config})
    out: dict[str, Any] = {"callable": [], "serialized": [], "formatter": [], "filter": []}
    log.add_handler({"sink": out["callable"].append})
    log.add_handler({"sink": out["serialized"].append, "serialize": True})
    log.add_handler({"sink": "stderr", "json": True})
    log.add_handler({"sink": str(tmp_path / "plain.log")})
    log.add_handler({"sink": str(tmp_path / "templ.log"), "format": "{message} {exception}"})

    def formatter(rec: Any) -> str:
        value = rec.exception.value
        out["formatter"].append(
            (rec.exception.type, value, "".join(traceback.format_exception(*rec.exception)))
        )
        return f"{type(value).__name__}: {value}\n{rec.traceback_text()}"

    log.add_handler({"sink": str(tmp_path / "fmt.log"), "formatter": formatter})

    def keep(rec: Any) -> bool:
        out["filter"].append(repr(rec.exception) + str(rec.exception.value))
        return True

    log.add_handler({"sink": lambda m: None, "filter": keep})
    return log, out


@pytest.mark.parametrize("way", list(WAYS))
def test_exception_is_masked_in_every_sink(way, make_logger, log_dir, tmp_path, capsys):
    """The secret in an exception message reaches no column, stream, file, callable or formatter."""
    log, out = _all_sinks(make_logger, tmp_path)
    WAYS[way](log)
    log.close()
    (rec,) = spool_records(log_dir)
    std = capsys.readouterr()
    files = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    seen = json.dumps(rec) + std.out + std.err + files + repr(out)
    assert SECRET not in seen
    assert rec["traceback"] and "password=***" in rec["traceback"]
    assert rec["exception"]["stacktrace"], "frames are kept"
    assert "Traceback (most recent call last)" in std.out and "password=***" in std.out
    assert "password=***" in files and "password=***" in "".join(out["serialized"])


def test_exception_struct_keeps_class_message_and_frames(make_logger, log_dir):
    """The masked ``exception`` struct keeps the class, the masked message and the frames."""
    log = make_logger(redact=True)
    _log_exception(log)
    log.close()
    (rec,) = spool_records(log_dir)
    exc = rec["exception"]
    assert exc["class"] == "ValueError"
    assert exc["msg"] == "connect failed: password=***"
    assert [f["method"] for f in exc["stacktrace"]] == ["_log_exception", "_raise_plain"]
    assert rec["traceback"].endswith("ValueError: connect failed: password=***")


def test_chained_cause_is_masked_in_the_traceback(make_logger, log_dir):
    """In ``raise X from Y`` the cause's message (only in the traceback) is masked too."""
    log = make_logger(redact=True)
    _log_chained(log)
    log.close()
    (rec,) = spool_records(log_dir)
    assert "direct cause" in rec["traceback"] and SECRET not in rec["traceback"]
    assert rec["exception"]["msg"] == "could not load the table"


def test_formatters_see_the_masked_rendering(make_logger, tmp_path):
    """Filters and formatters get the original class and a masked `RenderedException` value."""
    log, out = _all_sinks(make_logger, tmp_path, stdout=False)
    _log_exception(log)
    log.close()
    ((etype, value, formatted),) = out["formatter"]
    assert etype is ValueError and isinstance(value, RenderedException)
    assert type(value).__name__ == "ValueError" and str(value) == "connect failed: password=***"
    assert formatted == "ValueError: connect failed: password=***\n"
    assert "_raise_plain" in value.text and value.struct["class"] == "ValueError"
    text = "".join(p.read_text() for p in tmp_path.glob("fmt*.log"))
    assert text.startswith("ValueError: connect failed: password=***\nTraceback")


def test_secret_field_value_in_the_exception_is_masked(make_logger, log_dir):
    """A secret field's value is masked in the exception text even where no pattern matches."""
    log = make_logger(redact=True)
    token = "tok-88-Zz-unpatterned"
    try:
        raise PermissionError(f"rejected {token}")
    except PermissionError:
        log.exception("auth failed", token=token)
    log.close()
    (rec,) = spool_records(log_dir)
    assert token not in json.dumps(rec)
    assert rec["exception"]["msg"] == "rejected ***"


def test_masked_exception_survives_pickling(make_logger):
    """A record's masked exception value pickles and unpickles with its rendering."""
    import pickle

    from laketrace.testing import capture_records

    log = make_logger(redact=True)
    with capture_records() as records:
        _log_exception(log)
    value = records[0].exception.value
    copy = pickle.loads(pickle.dumps(value))
    assert type(copy).__name__ == "ValueError" and str(copy) == str(value)
    assert copy.text == value.text


def test_unprintable_exception_is_masked_and_kept(make_logger, log_dir):
    """An exception whose ``__str__`` raises still yields one masked record."""

    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    log = make_logger(redact=True)
    try:
        raise Hostile()
    except Hostile:
        log.exception("x password=abc")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["msg"] == "x password=***" and rec["exception"]["class"].endswith("Hostile")


def test_exception_not_rendered_without_redaction(make_logger):
    """Without redact the record keeps the live exception (no rendering cost, no surrogate)."""
    from laketrace.testing import capture_records

    log = make_logger()
    with capture_records() as records:
        _log_exception(log)
    assert type(records[0].exception.value) is ValueError
