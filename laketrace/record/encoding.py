"""JSON encoding that never raises and never hands a user object to an encoder.

orjson when installed, stdlib json otherwise. `dumps` first reduces its argument to
JSON-safe primitives with `laketrace.record.sanitize` (datetimes, Decimals, bytes, sets,
Enums, dataclasses, NaN, non-string keys, lone surrogates, cycles and objects whose hooks
raise all end up as valid JSON), so both backends produce the same JSON for the same
value. `fast_dumps` is the raw backend, only for trees LakeTrace built itself from
exact ``str``/``int``/``float``/``bool``/``None`` (the lake-line encoder).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .sanitize import Unrenderable, clean_str, render, to_safe

_orjson: Any
try:  # orjson is the optional `fast` extra
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised in the stdlib-only CI step
    _orjson = None

BACKEND = "orjson" if _orjson is not None else "json"


def _stdlib_dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


fast_dumps: Callable[[Any], bytes] = _orjson.dumps if _orjson is not None else _stdlib_dumps


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON bytes; never raises for any input.

    >>> dumps({"n": 1, "when": __import__("datetime").date(2026, 1, 2)})
    b'{"n":1,"when":"2026-01-02"}'
    """
    return _encode_tree(to_safe(obj))


def _encode_tree(tree: Any) -> bytes:
    """Encode a tree `sanitize.render` built (only primitives, so only limits can fail)."""
    try:
        return fast_dumps(tree)
    except Exception:  # e.g. orjson's nesting limit: the stdlib encoder has none so low
        pass
    try:
        return _stdlib_dumps(tree)
    except Exception:  # MemoryError: still one valid JSON value
        return b'"<unencodable value>"'


def dumps_str(obj: Any) -> str:
    """Like `dumps` but returns `str`."""
    return dumps(obj).decode("utf-8")


def context_entry(value: Any) -> tuple[str, bool]:
    """``(text, failed)``: a field value as the `context` map holds it (strings as they are,
    other values as JSON), and whether rendering it needed a fallback."""
    t = type(value)
    if t is str:
        return value, False
    if t is int:
        try:
            return str(value), False
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            pass
    elif t is float:
        if math.isfinite(value):
            return repr(value), False
    elif value is None:
        return "null", False
    elif t is bool:
        return ("true" if value else "false"), False
    elif issubclass(t, str):  # Level, str enums, Unrenderable: their text, no user code
        return clean_str(value), t is Unrenderable
    tree, failed = render(value)
    return _encode_tree(tree).decode("utf-8"), failed


def context_value(value: Any) -> str:
    """Encode a field value for the `context` map<string,string>: strings as-is, others as JSON.

    >>> context_value("a"), context_value(3), context_value(float("nan")), context_value(None)
    ('a', '3', '"nan"', 'null')
    """
    return context_entry(value)[0]


def set_backend(name: str) -> Callable[[Any], bytes]:
    """Switch the encoder backend (``"orjson"`` or ``"json"``); used by tests and benchmarks."""
    global fast_dumps, BACKEND
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
