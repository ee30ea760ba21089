"""Parsing sizes and durations written by people (``"500 MB"``, ``"5 min"``) and by Spark
(``"1g"``, ``"512m"``): one module, so a config key and a Spark property read alike.

A size needs an explicit byte unit (``B``, ``KB``, ``MB``, ``GB``, ``TB``, or binary ``KiB``,
``MiB``, ``GiB``, ``TiB``); a duration needs a unit word (``ms``, ``s``/``sec``/``second``,
``min``/``minute``, ``h``/``hr``/``hour``, ``d``/``day``, ``w``/``week``, ``month``, ``year``;
words may take a plural ``s``). A bare ``M`` is neither (megabytes? minutes? months?), and
abbreviations take no plural (``"500 MBs"`` is refused): a misread size or age could
rotate or delete files the user meant to keep. Units are case-insensitive.

>>> parse_size("500 MB"), parse_duration("2 h"), parse_spark_size("1g")
(500000000, 7200.0, 1073741824)
>>> parse_size("10 M") is None, parse_duration("10 M") is None
(True, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SIZE_UNITS: Mapping[str, int] = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_DURATION_WORDS: Mapping[tuple[str, ...], float] = {
    ("ms", "msec", "millisecond"): 1e-3,
    ("s", "sec", "second"): 1,
    ("min", "minute"): 60,
    ("h", "hr", "hour"): 3600,
    ("d", "day"): 86400,
    ("w", "week"): 604800,
    ("month",): 30 * 86400,
    ("year",): 365 * 86400,
}
DURATION_UNITS: Mapping[str, float] = {
    form: factor
    for names, factor in _DURATION_WORDS.items()
    for name in names
    for form in ((name,) if len(name) == 1 or name == "ms" else (name, name + "s"))
}
#: accepted size forms, for error messages
SIZE_FORMS = '"500 MB", "10 KB", "1 GB", "1.5 GiB" (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)'
#: accepted duration forms, for error messages
DURATION_FORMS = (
    '"30 s", "5 min", "12 h", "7 days", "2 weeks" (ms, s, sec, min, h, hr, d, day, w, week, '
    "month, year; words may be plural)"
)
# Spark's byte strings are binary: "1g" is 1 GiB (JavaUtils.byteStringAsBytes)
_SPARK_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_NUM_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*$", re.I)
_SPARK_SIZE = re.compile(r"^\s*([0-9]+)\s*([kmgtp]?)i?b?\s*$", re.I)


def _num_unit(text: str, table: Mapping[str, float]) -> float | None:
    m = _NUM_UNIT.match(str(text))
    if not m:
        return None
    factor = table.get(m.group(2).lower())
    return None if factor is None else float(m.group(1)) * factor


def parse_size(text: str) -> int | None:
    """``"500 MB"`` -> 500000000; None when ``text`` is not a size with an explicit unit."""
    value = _num_unit(text, SIZE_UNITS)
    return None if value is None else int(value)


def parse_duration(text: str) -> float | None:
    """``"1 h"`` -> 3600.0 seconds; None when ``text`` is not a duration with a unit word."""
    return _num_unit(text, DURATION_UNITS)


def unit_hint(text: object) -> str:
    """Why a number-with-unit was refused, when the unit is a near miss ('' otherwise).

    >>> unit_hint("10 M")
    " 'M' is ambiguous: write '10 MB' for megabytes or '10 min' for minutes."
    """
    m = _NUM_UNIT.match(str(text))
    if not m:
        return ""
    num, unit = m.group(1), m.group(2)
    low = unit.lower()
    if low == "m":
        return f" {unit!r} is ambiguous: write '{num} MB' for megabytes or '{num} min' for minutes."
    if low in ("k", "g", "t"):
        return f" write '{num} {low.upper()}B' (or '{num} {low.upper()}iB' for binary units)."
    if low.endswith("s") and low[:-1] in SIZE_UNITS:
        return f" write '{num} {unit[:-1]}' (abbreviated units take no plural s)."
    return ""


def parse_spark_size(text: str) -> int | None:
    """A Spark byte string (``"1g"``, ``"512m"``, ``"4096"``) in bytes; None if it is not one."""
    m = _SPARK_SIZE.match(str(text))
    if not m:
        return None
    return int(m.group(1)) * _SPARK_UNITS[m.group(2).lower()]
