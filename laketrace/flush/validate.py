"""What makes a spool line a valid lake record: one rule, derived from `laketrace.schema`.

The flush step uses it to split files with bad lines, and both writers use the same
required fields (`REQUIRED_COLUMNS`) to flag rows they parsed.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from ..schema import COLUMNS, REQUIRED_COLUMNS, Type

_SPOOL = {c.name: c.type for c in COLUMNS if c.in_spool}
RAW_LIMIT = 64 * 1024


def _check(value: Any, t: Type, where: str) -> str | None:
    if value is None:
        return None
    if t == "string" or t == "timestamp":
        return None if isinstance(value, str) else f"{where}: expected a string, got {value!r:.60}"
    if t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
        return None if ok else f"{where}: expected a 32-bit integer, got {value!r:.60}"
    if isinstance(t, tuple) and t[0] == "map":
        if not isinstance(value, dict):
            return f"{where}: expected an object of strings, got {type(value).__name__}"
        for k, v in value.items():
            if v is not None and not isinstance(v, str):
                return f"{where}[{k!r}]: expected a string value, got {v!r:.60}"
        return None
    if isinstance(t, tuple) and t[0] == "array":
        if not isinstance(value, list):
            return f"{where}: expected an array, got {type(value).__name__}"
        for i, item in enumerate(value):
            err = _check(item, t[1], f"{where}[{i}]")
            if err:
                return err
        return None
    if isinstance(t, tuple) and t[0] == "struct":
        if not isinstance(value, dict):
            return f"{where}: expected an object, got {type(value).__name__}"
        for name, ft in t[1]:
            err = _check(value.get(name), ft, f"{where}.{name}")
            if err:
                return err
        return None
    return None


def missing_required_reason(name: str) -> str:
    """The quarantine reason for a line without the required field ``name``."""
    return f"missing required field {name!r}"


def bad_ts_reason(ts: object) -> str:
    """The quarantine reason for a ``ts`` that is not an ISO-8601 timestamp."""
    return f"ts: not an ISO-8601 timestamp: {ts!r:.60}"


def validate_line(raw: bytes) -> str | None:
    """None if ``raw`` is an acceptable lake record line, else the reason it is not."""
    if not raw.endswith(b"\n"):
        return "incomplete line (no newline at end of file): the writer stopped mid-line"
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(obj, dict):
        return f"not a JSON object but {type(obj).__name__}"
    for name in REQUIRED_COLUMNS:
        if not obj.get(name):
            return missing_required_reason(name)
    for name, t in _SPOOL.items():
        err = _check(obj.get(name), t, name)
        if err:
            return err
    try:
        _dt.datetime.fromisoformat(str(obj["ts"]).replace("Z", "+00:00"))
    except ValueError:
        return bad_ts_reason(obj["ts"])
    return None
