"""How the Spark writer reads spool JSON: text lines parsed with ``from_json`` and checked
against the one rule in SQL.

Spark's JSON reader is lenient where the one rule is not: it ignores what follows the
first object on a line, accepts single quotes and ``NaN``, and keeps the last of two
duplicated keys. So lines are read as text (split on ``\\n`` only, as Python does),
parsed with single quotes and ``NaN`` turned off, and a line is *bad* when it does not
parse, holds more than one JSON value or repeats a top-level key (one parse with a
sentinel key: `_NOT_ONE_OBJECT`), repeats a key in ``context``, ``exception`` or a
stack frame, lacks a required field or has a ``ts`` outside `TS_PATTERN`. The rest
(invalid UTF-8, lone surrogates, a BOM, deep nesting) is caught by the byte scan before
Spark reads a file.
``ts`` is converted to UTC whatever the session time zone (no offset means UTC), and
``date`` is its UTC date.

The checks on the line's text sit in the projection that parses it, so the text is not
carried further and the later steps (the rule on the parsed columns, the filter) are
compiled by whole-stage code generation; the checks of ``exception`` (a lambda over the
stack frames, which Spark cannot compile) run only on lines whose ``exception`` is set.
"""

from __future__ import annotations

from typing import Any

from ..schema import REQUIRED_COLUMNS, spark_schema
from .validate import TS_PATTERN

_CORRUPT = "_corrupt_record"
_TS_UTC = (
    "try_to_timestamp(CASE WHEN ts RLIKE '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN ts "
    "ELSE concat(ts, 'Z') END)"
)


def _dups(keys: str) -> str:
    return f"coalesce(size({keys}) <> size(array_distinct({keys})), false)"


def _json_keys(path: str) -> str:
    return f"json_object_keys(get_json_object(value, '{path}'))"


_FRAME_DUPS = (
    "coalesce(exists(from_json(get_json_object(value, '$.exception.stacktrace'), "
    "'array<string>'), f -> " + _dups("json_object_keys(f)") + "), false)"
)
#: more than one JSON value on the line, the long way (see `_NOT_ONE_OBJECT`). Jackson
#: stops at the end of the first root value, so the line is parsed inside an array (a ``}``
#: or ``,`` after the value is then an error or a second element); a ``]`` after the value
#: would close that array early, so a line holding a ``]`` is also parsed as the only
#: member's value of an object, where a ``]`` is an error and a ``,`` a second key
_MULTI = (
    "coalesce(json_array_length(concat('[', value, ']')), 0) <> 1 OR (instr(value, ']') > 0"
    " AND coalesce(size(json_object_keys(concat('{\"v\":', value, '}'))), 0) <> 1)"
)
#: whether the line takes the sentinel way: it ends with ``}`` and does not spell the
#: sentinel key (``\u0000``; a NUL byte never reaches Spark: the byte scan splits its file)
_SENTINEL_WAY = "value LIKE '%}' AND instr(value, '\\\\u0000') = 0"
#: the line with its last ``}`` replaced by the sentinel member ``,"\u0000":0}`` (bytes
#: are cut and joined: character positions would walk the whole line three times)
_WITH_SENTINEL = (
    "cast(concat(substring(cast(value AS binary), 1, octet_length(value) - 1), "
    "cast(',\"\\\\u0000\":0}' AS binary)) AS string)"
)
_KEYS = f"json_object_keys({_WITH_SENTINEL})"
#: One parse for two checks. On the sentinel way the top-level keys of `_WITH_SENTINEL`
#: are read. Jackson stops at the end of the first root value, so the sentinel is the last
#: key exactly when the first value spans the whole line (a second value, or a ``}`` or
#: ``]`` after the first, leaves it out or fails the parse); the keys before it are the
#: line's own, so a repeated key shows as a repeat. Other lines (a ``\r`` or blanks after
#: the ``}``, no ``}`` at all, or a ``\u0000`` in the text) take the long way: `_MULTI`
#: and the keys of the line. The lenient parse admits nothing the strict ``from_json`` of
#: the same first value would not reject.
#:
#: The keys are read first and in no conditional branch (not in ``CASE``, nor after the
#: first argument of ``coalesce``): only there does Spark evaluate a repeated
#: subexpression once (measured: put after the ``CASE`` the read cost ~7% more CPU); the
#: long way sits in a ``CASE`` branch, so it costs nothing on other lines.
_NOT_ONE_OBJECT = (
    f"(coalesce(NOT (try_element_at({_KEYS}, -1) = chr(0)) OR size({_KEYS}) <> "
    f"size(array_distinct({_KEYS})), true) AND {_SENTINEL_WAY}) OR CASE WHEN NOT "
    f"({_SENTINEL_WAY}) THEN ({_MULTI}) OR {_dups('json_object_keys(value)')} ELSE false END"
)
#: SQL on the line's text, evaluated where the line is parsed (so the text is not carried
#: further): more than one JSON value or a repeated top-level key, or (only on a line whose
#: parsed ``exception`` is set) a repeated key in ``exception`` or a stack frame
_TEXT_CHECKS = {"_not_one_object": _NOT_ONE_OBJECT}
_EXCEPTION_DUPS = f"({_dups(_json_keys('$.exception'))} OR {_FRAME_DUPS})"
#: SQL that is true for a line the one rule rejects (on the columns `read_lines` adds)
BAD_LINE = " OR ".join(
    [
        f"{_CORRUPT} IS NOT NULL",
        "_not_one_object",
        f"NOT coalesce(ts RLIKE '^{TS_PATTERN}$', false)",
        "_ts IS NULL",
        *[f"{c} IS NULL OR {c} = ''" for c in REQUIRED_COLUMNS if c != "ts"],
        f"(context IS NOT NULL AND {_dups('map_keys(context)')})",
        "_exception_dups",
    ]
)


def _schema() -> Any:
    from pyspark.sql import types as T

    fields = []
    for f in spark_schema(spool=True).fields:
        fields.append(T.StructField(f.name, T.StringType() if f.name == "ts" else f.dataType))
    return T.StructType([*fields, T.StructField(_CORRUPT, T.StringType())])


def read_lines(writer: Any, paths: list[str]) -> Any:
    """The spool lines of ``paths`` parsed: spool columns, ``value`` (the line), ``_ts``
    (UTC), ``_file``, ``_bad`` and the text checks behind it; blank lines are skipped as
    Python skips them."""
    F = writer.F
    options = {
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": _CORRUPT,
        "allowSingleQuotes": "false",
        "allowNonNumericNumbers": "false",
    }
    text = writer.spark.read.option("lineSep", "\n").text(paths)
    # \z, not $: Java's $ also matches before a final U+0085, U+2028 or U+2029, and a
    # line holding only one of those is not blank to Python (it is quarantined)
    text = text.filter(~F.col("value").rlike("^[ \\t\\r\\x0B\\f]*\\z"))
    parsed = F.from_json("value", _schema(), options)
    # one projection holds the parse and every check on the text: Spark evaluates the
    # parse once there (common subexpressions) and the later steps stay compiled
    checked = text.select(
        F.col("_metadata.file_path").alias("_file"),
        parsed.alias("j"),
        *[F.expr(sql).alias(name) for name, sql in _TEXT_CHECKS.items()],
        F.when(parsed.getField("exception").isNotNull(), F.expr(_EXCEPTION_DUPS))
        .otherwise(F.lit(False))
        .alias("_exception_dups"),
        "value",
    ).select("value", "_file", "j.*", *_TEXT_CHECKS, "_exception_dups")
    checked = checked.withColumn("_ts", F.expr(_TS_UTC))
    return checked.withColumn("_bad", F.expr(BAD_LINE))
