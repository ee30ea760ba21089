"""Reducing any value a user passes to JSON-safe primitives, with per-value fallbacks.

This is the only place LakeTrace looks inside user objects to encode them. `render`
returns a tree of exact ``str``, ``int`` (64-bit), finite ``float``, ``bool``, ``None``,
``list`` and ``dict`` with string keys, built here, so a JSON encoder (orjson or stdlib
json) never sees a user object: orjson 3.x segfaults on some (a slots dataclass with an
unset field, a datetime whose ``utcoffset`` raises, an Enum whose ``value`` raises) and
stdlib json raises from their hooks.

Each value is converted by its type (isoformat, ``.value``, ``items()``, fields...). When
that conversion raises, the value falls back to ``repr`` and, when ``repr`` raises too,
to the text ``<unprintable T: reason>``; `render` then reports the value as failed so the
record can name it (``laketrace.unrenderable``). NaN and infinities become the strings
``"nan"``, ``"inf"`` and ``"-inf"``; integers outside the 64-bit range become their
decimal text. Cycles, nesting deeper than `MAX_DEPTH` and values with more than
`MAX_NODES` items are cut with a marker text (and count as failed).

>>> render({"when": __import__("datetime").date(2026, 1, 2), "n": float("nan")})
({'when': '2026-01-02', 'n': 'nan'}, False)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import math
import re
import uuid
from base64 import b64encode
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

#: the context key listing the fields whose value could not be rendered faithfully
UNRENDERABLE = "laketrace.unrenderable"
MAX_DEPTH = 64
MAX_NODES = 100_000
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_NONFINITE = {math.inf: "inf", -math.inf: "-inf"}
_SURROGATE = re.compile("[\ud800-\udfff]")


class Unrenderable(str):
    """Text standing in for a value that could not be used (e.g. a malformed ``exc_info``).

    A field holding one is rendered as its text and listed in ``laketrace.unrenderable``.
    """

    __slots__ = ()


def type_name(obj: object) -> str:
    """The qualified name of ``obj``'s type; never raises."""
    try:
        name = type(obj).__qualname__
        name = name if type(name) is str else str.__str__(name)
        return name.rsplit("<locals>.", 1)[-1]
    except Exception:
        return "object"


def _reason(exc: BaseException) -> str:
    try:
        text = str(exc)
        text = text if type(text) is str else str.__str__(text)
    except Exception:
        text = ""
    name = type_name(exc)
    return f"{name}: {text}" if text else name


def unprintable(obj: object, exc: BaseException | None = None) -> str:
    """The placeholder text ``<unprintable T: reason>`` for ``obj``."""
    if exc is None:
        return f"<unprintable {type_name(obj)}>"
    return f"<unprintable {type_name(obj)}: {_reason(exc)}>"


def clean_str(s: str) -> str:
    """``s`` as an exact ``str`` that encodes to UTF-8 (lone surrogates become U+FFFD)."""
    if type(s) is not str:
        s = str.__str__(s)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)


def safe_repr(obj: object) -> str:
    """``repr(obj)`` as clean text, or ``<unprintable T: reason>``; never raises."""
    try:
        text = repr(obj)
        if not isinstance(text, str):
            raise TypeError(f"__repr__ returned {type_name(text)}")
        return clean_str(text)
    except Exception as exc:
        return unprintable(obj, exc)


def safe_str(obj: object) -> str:
    """``str(obj)`` as an exact ``str``, falling back to ``repr``, then the placeholder."""
    if type(obj) is str:
        return obj
    try:
        text = str(obj)
        return text if type(text) is str else str.__str__(text)
    except Exception:
        return safe_repr(obj)


class _Walk:
    """One `render` call: the failure flag, the node budget and the containers being visited."""

    __slots__ = ("active", "failed", "nodes")

    def __init__(self) -> None:
        self.failed = False
        self.nodes = 0
        self.active: set[int] = set()

    def fallback(self, obj: object, exc: BaseException) -> str:
        """The value's ``repr`` (or the placeholder) after its conversion raised ``exc``."""
        self.failed = True
        try:
            text = repr(obj)
            if isinstance(text, str):
                return clean_str(text)
        except Exception:
            pass
        return unprintable(obj, exc)

    def value(self, obj: Any, depth: int) -> Any:
        t = type(obj)
        if t is str:
            return clean_str(obj)
        if obj is None or t is bool:
            return obj
        if t is int:
            return obj if _INT_MIN <= obj <= _INT_MAX else self.big_int(obj)
        if t is float:
            return obj if math.isfinite(obj) else _NONFINITE.get(obj, "nan")
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            self.failed = True
            return f"<cut: more than {MAX_NODES} items or {MAX_DEPTH} levels>"
        try:
            return self.convert(obj, t, depth)
        except Exception as exc:
            return self.fallback(obj, exc)

    def big_int(self, n: int) -> str:
        """An int beyond 64 bits as its decimal text (JSON number types stop at 64 bits)."""
        try:
            return str(n)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            self.failed = True
            return f"<int of {n.bit_length()} bits>"

    def convert(self, obj: Any, t: type, depth: int) -> Any:
        """Convert one non-primitive value (raises when the value's own hooks raise)."""
        if t is Unrenderable:
            self.failed = True
            return clean_str(obj)
        if t is dict or t is list or t is tuple or isinstance(obj, (Mapping, list, tuple)):
            key = id(obj)
            if key in self.active:
                self.failed = True
                return "<cycle>"
            self.active.add(key)
            try:
                if isinstance(obj, Mapping):
                    items = list(obj.items())
                    return {_key(k): self.value(v, depth + 1) for k, v in items}
                return [self.value(v, depth + 1) for v in list(obj)]
            finally:
                self.active.discard(key)
        if isinstance(obj, enum.Enum):
            return self.value(obj.value, depth + 1)
        if isinstance(obj, (set, frozenset)):
            return _sorted([self.value(v, depth + 1) for v in list(obj)])
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: self.field(obj, f.name, depth + 1) for f in dataclasses.fields(obj)}
        return self.scalar(obj)

    def field(self, obj: Any, name: str, depth: int) -> Any:
        try:
            attr = getattr(obj, name)
        except Exception as exc:
            self.failed = True
            return f"<unprintable {type_name(obj)}.{name}: {_reason(exc)}>"
        return self.value(attr, depth)

    def scalar(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return clean_str(obj)
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return self.value(int.__int__(obj), 0)
        if isinstance(obj, float):
            return self.value(float.__float__(obj), 0)
        if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
            return clean_str(obj.isoformat())
        if isinstance(obj, _dt.timedelta):
            return self.value(obj.total_seconds(), 0)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            raw = bytes(obj)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return "base64:" + b64encode(raw).decode("ascii")
        if isinstance(obj, (decimal.Decimal, uuid.UUID, PurePath)):
            return clean_str(str(obj))
        if isinstance(obj, BaseException):
            return f"{type_name(obj)}: {clean_str(str(obj))}"
        text = repr(obj)
        if not isinstance(text, str):
            raise TypeError(f"__repr__ returned {type_name(text)}")
        return clean_str(text)


def _key(k: object) -> str:
    if issubclass(type(k), str):
        return clean_str(k)  # type: ignore[arg-type]
    return safe_repr(k)


def _sorted(items: list[Any]) -> list[Any]:
    """Set members in a stable order (they are primitives by now, so this cannot run user code)."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: (type(v).__name__, repr(v)))


def render(obj: Any) -> tuple[Any, bool]:
    """``(tree, failed)``: ``obj`` as JSON-safe primitives; never raises (except BaseException
    that is not an Exception, such as KeyboardInterrupt, raised by the value's own hooks)."""
    walk = _Walk()
    try:
        tree = walk.value(obj, 0)
    except Exception as exc:  # RecursionError near the stack limit, MemoryError
        return unprintable(obj, exc), True
    return tree, walk.failed


def to_safe(obj: Any) -> Any:
    """``obj`` as JSON-safe primitives (see `render`)."""
    return render(obj)[0]
