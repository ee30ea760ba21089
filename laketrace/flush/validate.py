"""What makes a spool line a valid lake record: one rule, derived from `laketrace.schema`.

A line is accepted when all of this holds (``validate_line`` is the reference; the
delta-rs and Spark writers implement the same checks in SQL, and a parity test runs one
list of cases through all three):

* it is complete (ends with a newline), valid UTF-8 and strict JSON (RFC 8259: no
  ``NaN``/``Infinity``, no byte-order mark, no ``\\ud800``-``\\udfff`` escape without its
  pair, exactly one value on the line), nested at most `MAX_DEPTH` levels deep;
* the value is an object with no duplicated key in it, in ``context``, in ``exception``
  or in a stack frame (other fields are not loaded, so their contents are not checked);
* ``ts``, ``level`` and ``record_id`` are present and not empty; ``ts`` is a string
  matching `TS_PATTERN` that names a real instant (an offset is converted to UTC, no
  offset means UTC);
* integer columns hold JSON integers in the 32-bit range; ``context`` and ``exception``
  are objects, ``exception.stacktrace`` an array of objects; string columns take any
  JSON value (a non-string is stored as its JSON text).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any

from ..schema import COLUMNS, REQUIRED_COLUMNS, Type

_SPOOL = {c.name: c.type for c in COLUMNS if c.in_spool}
RAW_LIMIT = 64 * 1024
#: the longest line (its newline included) a writer loads: a longer one is quarantined
#: without being parsed or held whole (a damaged file of gigabytes without a newline must
#: not take the flush's memory), and neither engine could load it (DuckDB reads lines up
#: to ``maximum_object_size``, Spark strings up to Jackson's limits)
MAX_LINE = 128 * 1024 * 1024
#: deepest nesting a line may have (LakeTrace's own records nest 4 deep)
MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: the accepted ``ts`` forms, in the regex dialect shared by Python, RE2 (DuckDB) and Java
#: (Spark): date, ``T`` or a space, time with seconds, up to 9 fraction digits (kept to
#: microseconds), then ``Z``, an offset ``+HH:MM`` between -18:00 and +18:00, or nothing
TS_PATTERN = (
    "[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]"
    "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?"
    "(Z|[+-]((0[0-9]|1[0-7]):[0-5][0-9]|18:00))?"
)
_TS_RE = re.compile(TS_PATTERN)
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"{}[]")

INCOMPLETE = "incomplete line (no newline at end of file): the writer stopped mid-line"


class _Dup(dict):
    """A parsed JSON object that had a duplicated key (``dup``)."""

    dup: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _Dup(obj)
    for k, _ in pairs:
        if k in seen:
            marked.dup = k
            break
        seen.add(k)
    return marked


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def depth(raw: bytes) -> int:
    """How deeply the JSON text ``raw`` nests (brackets inside strings do not count)."""
    skeleton = _STRINGS.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    level = best = 0
    for ch in skeleton:
        if ch in (123, 91):  # { [
            level += 1
            best = max(best, level)
        else:
            level -= 1
    return best


def parse_ts(value: Any) -> _dt.datetime | None:
    """The UTC instant of a ``ts`` value, or None if it is not one (see `TS_PATTERN`)."""
    if not isinstance(value, str) or not _TS_RE.fullmatch(value):
        return None
    date, time_ = value[:10], value[11:]
    zone = _dt.timezone.utc
    for sign in ("Z", "+", "-"):
        at = time_.find(sign)
        if at != -1:
            if sign != "Z":
                hours, minutes = int(time_[at + 1 : at + 3]), int(time_[at + 4 : at + 6])
                delta = _dt.timedelta(hours=hours, minutes=minutes)
                zone = _dt.timezone(delta if sign == "+" else -delta)
            time_ = time_[:at]
            break
    frac = time_[9:] if len(time_) > 8 else ""
    try:
        local = _dt.datetime(
            int(date[:4]),
            int(date[5:7]),
            int(date[8:10]),
            int(time_[:2]),
            int(time_[3:5]),
            int(time_[6:8]),
            int((frac + "000000")[:6]),
            tzinfo=zone,
        )
    except ValueError:
        return None  # e.g. 2025-02-30
    return local.astimezone(_dt.timezone.utc)


def _check(value: Any, t: Type, where: str) -> str | None:
    if value is None or t in ("string", "timestamp"):
        return None  # any JSON value is kept as text; ts is checked on its own
    if t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and INT_MIN <= value <= INT_MAX
        return None if ok else f"{where}: expected a 32-bit integer, got {value!r:.60}"
    kind = t[0] if isinstance(t, tuple) else None
    if kind == "map":
        if not isinstance(value, dict):
            return f"{where}: expected an object, got {type(value).__name__}"
        return f"{where}: duplicated key {value.dup!r}" if isinstance(value, _Dup) else None
    if kind == "array":
        if not isinstance(value, list):
            return f"{where}: expected an array, got {type(value).__name__}"
        for i, item in enumerate(value):
            err = _check(item, t[1], f"{where}[{i}]")
            if err:
                return err
        return None
    if kind == "struct":
        if not isinstance(value, dict):
            return f"{where}: expected an object, got {type(value).__name__}"
        if isinstance(value, _Dup):
            return f"{where}: duplicated key {value.dup!r}"
        assert isinstance(t, tuple)
        for name, ft in t[1]:
            err = _check(value.get(name), ft, f"{where}.{name}")
            if err:
                return err
    return None


def missing_required_reason(name: str) -> str:
    """The quarantine reason for a line without the required field ``name``."""
    return f"missing required field {name!r}"


def too_long_reason(size: int) -> str:
    """The quarantine reason for a line of ``size`` bytes, over `MAX_LINE`."""
    return (
        f"line too long: {size:,} bytes, over the {MAX_LINE:,} a line may have (the first "
        f"{RAW_LIMIT // 1024} KiB are kept here); log large data as a file and its path"
    )


def bad_ts_reason(ts: object) -> str:
    """The quarantine reason for a ``ts`` that is not an ISO-8601 timestamp."""
    return f"ts: not an ISO-8601 timestamp (YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM]): {ts!r:.60}"


def _parse(raw: bytes) -> tuple[Any, str | None]:
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and depth(raw) > MAX_DEPTH:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        # decoded here, not by json: json.loads(bytes) would skip a BOM and accept UTF-16
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_no_constant)
    except RecursionError:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        return None, f"not valid JSON: {exc}"
    if b"\\u" in raw and _SURROGATE.search(raw):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None, "not valid JSON: a \\ud800-\\udfff escape without its pair"
    return obj, None


def validate_line(raw: bytes) -> str | None:
    """None if ``raw`` is an acceptable lake record line, else the reason it is not."""
    if len(raw) > MAX_LINE:
        return too_long_reason(len(raw))
    if not raw.endswith(b"\n"):
        return INCOMPLETE
    obj, err = _parse(raw)
    if err:
        return err
    if not isinstance(obj, dict):
        return f"not a JSON object but {type(obj).__name__}"
    if isinstance(obj, _Dup):
        return f"duplicated key {obj.dup!r}"
    for name in REQUIRED_COLUMNS:
        value = obj.get(name)
        if value is None or value == "":
            return missing_required_reason(name)
    for name, t in _SPOOL.items():
        err = _check(obj.get(name), t, name)
        if err:
            return err
    if parse_ts(obj["ts"]) is None:
        return bad_ts_reason(obj["ts"])
    return None
