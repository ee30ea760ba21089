"""How the Spark writer reads spool JSON: text lines parsed with ``from_json`` and checked
against the one rule in SQL.

Spark's JSON reader is lenient where the one rule is not: it ignores what follows the
first object on a line, accepts single quotes and ``NaN``, and keeps the last of two
duplicated keys. So lines are read as text (split on ``\\n`` only, as Python does),
parsed with single quotes and ``NaN`` turned off, and a line is *bad* when it does not
parse, holds more than one JSON value (``json_array_length('[' || line || ']') <> 1``),
repeats a key in the record, ``context``, ``exception`` or a stack frame, lacks a
required field or has a ``ts`` outside `TS_PATTERN`. The rest (invalid UTF-8, lone
surrogates, a BOM, deep nesting) is caught by the byte scan before Spark reads a file.
``ts`` is converted to UTC whatever the session time zone (no offset means UTC), and
``date`` is its UTC date.
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
#: SQL that is true for a line the one rule rejects (on the columns `read_lines` adds)
BAD_LINE = " OR ".join(
    [
        f"{_CORRUPT} IS NOT NULL",
        "coalesce(json_array_length(concat('[', value, ']')), 0) <> 1",
        f"NOT coalesce(ts RLIKE '^{TS_PATTERN}$', false)",
        "_ts IS NULL",
        *[f"{c} IS NULL OR {c} = ''" for c in REQUIRED_COLUMNS if c != "ts"],
        _dups("json_object_keys(value)"),
        f"(context IS NOT NULL AND {_dups('map_keys(context)')})",
        f"(exception IS NOT NULL AND ({_dups(_json_keys('$.exception'))} OR {_FRAME_DUPS}))",
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
    (UTC), ``_file`` and ``_bad``; blank lines are skipped as Python skips them."""
    F = writer.F
    options = {
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": _CORRUPT,
        "allowSingleQuotes": "false",
        "allowNonNumericNumbers": "false",
    }
    text = writer.spark.read.option("lineSep", "\n").text(paths)
    text = text.filter(~F.col("value").rlike("^[ \\t\\r\\x0B\\f]*$"))
    parsed = text.select(
        "value",
        F.col("_metadata.file_path").alias("_file"),
        F.from_json("value", _schema(), options).alias("j"),
    ).select("value", "_file", "j.*")
    parsed = parsed.withColumn("_ts", F.expr(_TS_UTC))
    return parsed.withColumn("_bad", F.expr(BAD_LINE))
