"""JSON encoding that never raises: orjson when installed, stdlib json otherwise.

Any value a user passes as a field must end up as valid JSON: datetimes, Decimals,
bytes, sets, NaN, non-string keys, lone surrogates, cycles and objects whose
``__repr__`` raises all take the slow path through `_sanitize` instead of failing.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import decimal
import enum
import json
import math
import uuid
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

_orjson: Any
try:  # orjson is the optional `fast` extra
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised in the stdlib-only CI step
    _orjson = None

BACKEND = "orjson" if _orjson is not None else "json"
_MAX_DEPTH = 64


def _safe_repr(obj: object) -> str:
    try:
        return repr(obj)
    except Exception:
        try:
            return f"<unrepresentable {type(obj).__qualname__} object>"
        except Exception:
            return "<unrepresentable object>"


def _clean_str(s: str) -> str:
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def _default(obj: object) -> Any:
    """Convert one value JSON does not know into one it does (used by both backends)."""
    if isinstance(obj, _dt.datetime):
        return obj.isoformat()
    if isinstance(obj, (_dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {obj}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return _safe_repr(obj)


def _sanitize(obj: Any, depth: int = 0) -> Any:
    """Recursively rebuild a value from JSON-safe primitives only (the slow, total path)."""
    if depth > _MAX_DEPTH:
        return "<max depth exceeded>"
    if obj is None or obj is True or obj is False:
        return obj
    if isinstance(obj, str):
        return _clean_str(str(obj))
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else str(obj)
    if isinstance(obj, Mapping):
        try:
            items = list(obj.items())
        except Exception:
            return _safe_repr(obj)
        return {
            (_clean_str(k) if isinstance(k, str) else _clean_str(_safe_repr(k))): _sanitize(
                v, depth + 1
            )
            for k, v in items
        }
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v, depth + 1) for v in obj]
    try:
        converted = _default(obj)
    except Exception:
        converted = _safe_repr(obj)
    if converted is obj or isinstance(converted, str):
        return _clean_str(converted) if isinstance(converted, str) else _safe_repr(obj)
    return _sanitize(converted, depth + 1)


def _stdlib_dumps(obj: Any) -> bytes:
    return json.dumps(
        obj, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


fast_dumps: Callable[[Any], bytes]
_ERRORS: tuple[type[BaseException], ...]
if _orjson is not None:
    _OPTS = _orjson.OPT_NON_STR_KEYS
    # plain orjson.dumps (no default/option) is twice as fast; `dumps` retries on failure
    fast_dumps = _orjson.dumps

    _ORJSON_ERRORS: tuple[type[BaseException], ...] = (TypeError, _orjson.JSONEncodeError)
else:
    fast_dumps = _stdlib_dumps
    _ORJSON_ERRORS = ()

_ERRORS = (TypeError, ValueError, OverflowError, RecursionError, UnicodeError, *_ORJSON_ERRORS)


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON bytes; never raises for any input.

    >>> dumps({"n": 1, "when": __import__("datetime").date(2026, 1, 2)})
    b'{"n":1,"when":"2026-01-02"}'
    """
    try:
        return fast_dumps(obj)
    except _ERRORS:
        pass
    if _orjson is not None and BACKEND == "orjson":
        try:
            return _orjson.dumps(obj, default=_default, option=_OPTS)
        except _ERRORS:
            pass
    return _stdlib_dumps(_sanitize(obj))


def dumps_str(obj: Any) -> str:
    """Like `dumps` but returns `str`."""
    return dumps(obj).decode("utf-8")


def context_value(value: Any) -> str:
    """Encode a field value for the `context` map<string,string>: strings as-is, others as JSON."""
    t = type(value)
    if t is str:
        return value
    if t is int:
        return str(value)
    return dumps(value).decode("utf-8")


def set_backend(name: str) -> Callable[[Any], bytes]:
    """Switch the encoder backend (``"orjson"`` or ``"json"``); used by tests and benchmarks."""
    global fast_dumps, BACKEND, _ERRORS
    if name == "json":
        fast_dumps = _stdlib_dumps
    elif name == "orjson":
        if _orjson is None:
            raise ValueError("orjson is not installed: pip install 'laketrace[fast]'")
        fast_dumps = _orjson.dumps
    else:
        raise ValueError(f"unknown JSON backend {name!r}; accepted: 'orjson', 'json'")
    BACKEND = name
    return fast_dumps
