"""Parsing sizes and durations written by people (``"500 MB"``, ``"5 min"``) and by Spark
(``"1g"``, ``"512m"``): one module, so a config key and a Spark property read alike.

>>> parse_size("500 MB"), parse_duration("2 h"), parse_spark_size("1g")
(500000000, 7200.0, 1073741824)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SIZE_UNITS: Mapping[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "byte": 1,
    "k": 1000,
    "g": 1000**3,
}
DURATION_UNITS: Mapping[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
    "month": 30 * 86400,
    "y": 365 * 86400,
    "year": 365 * 86400,
}
# Spark's byte strings are binary: "1g" is 1 GiB (JavaUtils.byteStringAsBytes)
_SPARK_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_NUM_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*$", re.I)
_SPARK_SIZE = re.compile(r"^\s*([0-9]+)\s*([kmgtp]?)i?b?\s*$", re.I)


def _num_unit(text: str, table: Mapping[str, float]) -> float | None:
    m = _NUM_UNIT.match(text)
    if not m:
        return None
    unit = m.group(2).lower()
    if unit not in table and unit.endswith("s") and unit[:-1] in table:
        unit = unit[:-1]
    factor = table.get(unit)
    return None if factor is None else float(m.group(1)) * factor


def parse_size(text: str) -> int | None:
    """``"500 MB"`` -> 500000000; None when ``text`` is not a size."""
    value = _num_unit(text, SIZE_UNITS)
    return None if value is None else int(value)


def parse_duration(text: str) -> float | None:
    """``"1 h"`` -> 3600.0 seconds; None when ``text`` is not a duration."""
    return _num_unit(text, DURATION_UNITS)


def parse_spark_size(text: str) -> int | None:
    """A Spark byte string (``"1g"``, ``"512m"``, ``"4096"``) in bytes; None if it is not one."""
    m = _SPARK_SIZE.match(str(text))
    if not m:
        return None
    return int(m.group(1)) * _SPARK_UNITS[m.group(2).lower()]
