"""Text sinks: stdout lines cannot be forged, `format` templates cannot walk objects."""

from __future__ import annotations

import json

import pytest

from laketrace import ConfigError

from ..hostile_values import BadRepr

FORGED = "2026-01-01 00:00:00.000Z | INFO     | app:main:1 - all good"


def test_stdout_escapes_control_characters_and_indents_tracebacks(make_logger, capsys):
    """The stdout human line shows ESC/CR/LF as escapes; a traceback (even one whose
    message forges a record line) follows on indented lines only."""
    log = make_logger(stdout=True)
    log.info(f"a\x1b[2J\r{FORGED}\n{FORGED}", field=f"\x1b]0;t\x07\n{FORGED}\x9b")
    try:
        raise ValueError(f"bad\n{FORGED}\x1b[31m")
    except ValueError:
        log.exception("failed")
    lines = capsys.readouterr().out.split("\n")
    assert lines[-1] == ""
    records = [ln for ln in lines[:-1] if not ln.startswith("  ")]
    assert len(records) == 2 and all(ln.startswith("20") for ln in records)
    assert "\\x1b[2J\\r2026-01-01" in records[0] and "field=\\x1b]0;t\\x07\\n" in records[0]
    assert "\x1b" not in "".join(lines) and "\r" not in "".join(lines)
    assert any(ln == f"  {FORGED}\\x1b[31m" for ln in lines)


def test_stdout_names_unrenderable_fields(make_logger, capsys):
    """The human line and the JSON stream list fields that needed a fallback."""
    log = make_logger(stdout=True)
    log.info("m", bad=BadRepr())
    assert 'laketrace.unrenderable=["bad"]' in capsys.readouterr().out
    jlog = make_logger(stdout=True, json=True)
    jlog.info("m", bad=BadRepr(), ok=1)
    obj = json.loads(capsys.readouterr().out)
    assert obj["laketrace.unrenderable"] == ["bad"] and obj["ok"] == 1
    assert obj["bad"] == "<unprintable BadRepr: Boom: boom>"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{message.__class__}", "attribute and index access is limited"),
        ("{extra.__class__.__init__.__globals__}", "attribute and index access is limited"),
        ("{extra[a][b]}", "attribute and index access is limited"),
        ("{level.__class__}", "attribute and index access is limited"),
        ("{exception[0]}", "attribute and index access is limited"),
        ("{message:999999999}", "over 1000"),
        ("{message:{extra}}", "nested replacement fields"),
        ("{message!z}", "conversion !z"),
        ("{nope.x}", r"unknown field \{nope.x\}"),
    ],
)
def test_format_templates_refuse_walks_and_huge_widths(make_logger, template, problem):
    """A `format` template that walks attributes/indexes or asks for a huge width is a
    ConfigError naming the key, the template and the accepted forms."""
    log = make_logger()
    with pytest.raises(ConfigError, match=problem) as err:
        log.add_handler({"sink": lambda m: None, "format": template})
    assert "'format'" in str(err.value) and "{extra[key]}" in str(err.value)


def test_format_templates_keep_documented_fields(make_logger):
    """{extra[key]}, {level.no}, specs and conversions work; a missing key is empty; values
    are escaped; {extra} shows JSON-safe values."""
    log = make_logger()
    got: list[str] = []
    log.add_handler(
        {
            "sink": got.append,
            "format": "{level:<8}|{level.no}|{extra[k]!r}|{extra[missing]}|{message}|{extra}",
        }
    )
    log.info("hi\nthere", k="v", n=float("nan"))
    assert got == ["INFO    |20|'v'||hi\\nthere|{'k': 'v', 'n': 'nan'}\n"]


def test_format_template_field_that_raises_falls_back(make_logger):
    """A field whose __format__ raises is shown by its safe text; the record is not lost."""
    log = make_logger()
    got: list[str] = []
    log.add_handler({"sink": got.append, "format": "{message} {extra[v]:>5}"})
    log.info("m", v=BadRepr())
    assert got == ["m <unprintable BadRepr: Boom: boom>\n"]
