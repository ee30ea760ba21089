"""Hostile values for log calls: objects whose hooks raise, that crash JSON encoders, or that
forge terminal output. Imported by tests in-process (for LakeTrace's own sanitiser, which
never hands them to an encoder) and by subprocesses (anything that could segfault).

`HOSTILE` maps a case name to a zero-argument factory; `LISTED` are the cases named in
issue 12 (orjson 3.x segfaults on the first three when handed them directly).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import os
import subprocess
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any


class Boom(Exception):
    """What every hostile hook raises."""


def boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("boom")


@dataclasses.dataclass(slots=True)
class SlotsDC:
    a: int
    b: int


class BadTZ(dt.tzinfo):
    utcoffset = dst = tzname = boom


class BadEnum(enum.Enum):
    A = 1

    @property
    def value(self) -> Any:
        raise Boom("enum value")


class BadItems(dict):
    items = keys = values = __iter__ = boom


class BadMapping(Mapping):
    __getitem__ = __iter__ = __len__ = items = boom


class BadLt:
    __lt__ = __gt__ = __le__ = __ge__ = boom

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return "BadLt()"


class BadRepr:
    __repr__ = __str__ = boom


class BadFormat:
    __format__ = boom

    def __repr__(self) -> str:
        return "BadFormat()"


class EvilStr(str):
    __str__ = __repr__ = __format__ = boom


class BadExcStr(Exception):
    __str__ = __repr__ = boom


class BadClassAttr:
    @property
    def __class__(self) -> Any:
        raise Boom("__class__")


class _Dead:
    pass


def dead_proxy() -> Any:
    obj = _Dead()
    proxy = weakref.proxy(obj)
    del obj
    return proxy


def cycle() -> Any:
    d: dict[str, Any] = {}
    d["self"] = d
    d["list"] = [d]
    return d


def dag_bomb() -> Any:
    a: Any = [1]
    for _ in range(60):
        a = [a, a]
    return a


def deep(n: int) -> Any:
    v: Any = []
    for _ in range(n):
        v = [v]
    return v


LISTED: dict[str, Callable[[], Any]] = {
    "slots_dataclass_unset": lambda: object.__new__(SlotsDC),
    "datetime_raising_utcoffset": lambda: dt.datetime(2026, 1, 2, tzinfo=BadTZ()),
    "enum_raising_value": lambda: BadEnum.A,
    "mapping_raising_items": lambda: BadItems(a=1),
    "abc_mapping_raising": lambda: BadMapping(),
    "set_raising_lt": lambda: {BadLt(), BadLt(), BadLt()},
}

HOSTILE: dict[str, Callable[[], Any]] = {
    **LISTED,
    "time_raising_utcoffset": lambda: dt.time(1, 2, tzinfo=BadTZ()),
    "raising_repr_and_str": lambda: BadRepr(),
    "raising_format": lambda: BadFormat(),
    "str_subclass_raising_str": lambda: EvilStr("evil"),
    "exception_raising_str": lambda: BadExcStr(),
    "raising___class__": lambda: BadClassAttr(),
    "dead_weakref_proxy": dead_proxy,
    "nan": lambda: math.nan,
    "inf": lambda: math.inf,
    "nested_nan": lambda: {"a": [math.nan, -math.inf]},
    "int_over_4300_digits": lambda: 10**5000,
    "int_over_64_bits": lambda: [2**64, -(2**63) - 1],
    "lone_surrogate": lambda: "x\udc80y",
    "surrogate_key": lambda: {"k\ud800": 1},
    "cycle": cycle,
    "dag_bomb": dag_bomb,
    "deep_nesting": lambda: deep(5000),
    "decimal_nan": lambda: decimal.Decimal("sNaN"),
    "namedtuple_with_bad_item": lambda: collections.namedtuple("NT", "a b")(1, BadRepr()),
    "dict_odd_keys": lambda: {(1, 2): 1, None: 2, BadRepr(): 3},
    "control_characters": lambda: "a\x1b[2J\rforged\n2026-01-01 00:00:00.000Z | INFO | x\x9b",
}
#: values whose own str() is exponential: only fields (LakeTrace's sanitiser) get them
FIELD_ONLY = {"dag_bomb"}


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(script: str, *args: str, timeout: float = 600) -> Any:
    """Run ``script`` (``python -c``) with ``args`` in a subprocess that imports this
    checkout; fail on a crash (a non-zero exit, e.g. a segfault); return the JSON of its
    last stdout line."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])
