"""Parse `rotation`, `retention` and `compression` config once into prepared objects.

The per-record check is `Rotation.due(ts, size_after)`: two comparisons unless the
user supplied a callable. Time-based rotation is computed from the time the file was
opened (taken from the injected clock), never from file ctime or extended attributes.
Times of day are UTC, like the records.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import inspect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._units import DURATION_FORMS, SIZE_FORMS, parse_duration, parse_size, unit_hint
from ..errors import ConfigError
from ..spool.names import COMPRESSIONS

_UTC = _dt.timezone.utc

_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("monday", "mon", "w0"),
            ("tuesday", "tue", "w1"),
            ("wednesday", "wed", "w2"),
            ("thursday", "thu", "w3"),
            ("friday", "fri", "w4"),
            ("saturday", "sat", "w5"),
            ("sunday", "sun", "w6"),
        )
    )
    for name in names
}
_HHMM = re.compile(r"^(?:at\s+)?([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")

ROTATION_FORMS = (
    f"a size with its unit ({SIZE_FORMS}, or a number of bytes), a time of day "
    '("00:00", "daily", "hourly", "weekly", "monthly", "yearly", "monday at 12:00"), an '
    f"interval ({DURATION_FORMS}, or a positive timedelta), a callable (record, file_info) "
    "-> bool (or (record) -> bool), or a list of these"
)
RETENTION_FORMS = (
    f'a count of sealed files to keep (5 or "5 files"), an age ({DURATION_FORMS}, or a '
    "positive timedelta), or a callable (list_of_sealed_paths) -> paths_to_delete"
)
COMPRESSION_FORMS = (
    '"gz", "bz2", "xz", "zip", None (or "none"), or a callable (path) -> compressed_path'
)
_FILES = re.compile(r"^([0-9]+)\s*files?$", re.I)


@dataclass(frozen=True)
class FileInfo:
    """What a rotation callable learns about the active file.

    ``name`` and ``tell()`` answer like the open file LakeTrace 1.x handed its rotation
    callables (the path, and the size in bytes).
    """

    path: str
    size: int
    opened_at: float
    records: int

    @property
    def name(self) -> str:
        return self.path

    def tell(self) -> int:
        return self.size


def _next_time_of_day(hour: int, minute: int, second: int, weekday: int | None):
    def boundary(opened: float) -> float:
        d = _dt.datetime.fromtimestamp(opened, _UTC)
        cand = d.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if weekday is not None:
            cand += _dt.timedelta(days=(weekday - cand.weekday()) % 7)
            if cand.timestamp() <= opened:
                cand += _dt.timedelta(days=7)
        elif cand.timestamp() <= opened:
            cand += _dt.timedelta(days=1)
        return cand.timestamp()

    return boundary


def _next_hour(opened: float) -> float:
    return (math.floor(opened / 3600) + 1) * 3600.0


def _next_month(opened: float) -> float:
    d = _dt.datetime.fromtimestamp(opened, _UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


def _next_year(opened: float) -> float:
    d = _dt.datetime.fromtimestamp(opened, _UTC)
    return float(calendar.timegm((d.year + 1, 1, 1, 0, 0, 0)))


def _interval(seconds: float):
    def boundary(opened: float) -> float:
        return opened + seconds

    return boundary


@dataclass(frozen=True)
class Rotation:
    """A prepared rotation policy; `due` is the per-record check."""

    size: int | None = None
    boundaries: tuple[Callable[[float], float], ...] = ()
    callables: tuple[Callable[[Any, FileInfo], bool], ...] = ()
    text: str = ""

    def next_at(self, opened: float) -> float:
        """Epoch seconds at which a file opened at ``opened`` must rotate (inf for never)."""
        return min((b(opened) for b in self.boundaries), default=math.inf)

    @property
    def active(self) -> bool:
        return bool(self.size or self.boundaries or self.callables)


def _bad(key: str, value: object, forms: str) -> ConfigError:
    hint = unit_hint(value) if isinstance(value, str) else ""
    return ConfigError(f"config {key!r}: cannot understand {value!r}.{hint} Accepted: {forms}.")


def _parse_rotation_item(value: object, key: str) -> Rotation:
    if isinstance(value, bool):
        raise _bad(key, value, ROTATION_FORMS)
    if isinstance(value, (int, float)):
        # a float (LakeTrace 1.x accepted 1024.0) is a number of bytes too
        if not value >= 1 or math.isinf(value):
            raise ConfigError(
                f"config {key!r}: a size must be positive (a number of bytes), got {value}."
            )
        return Rotation(size=int(value))
    if isinstance(value, _dt.timedelta):
        if value.total_seconds() <= 0:
            raise ConfigError(f"config {key!r}: an interval must be positive, got {value}.")
        return Rotation(boundaries=(_interval(value.total_seconds()),))
    if isinstance(value, _dt.time):
        return Rotation(
            boundaries=(_next_time_of_day(value.hour, value.minute, value.second, None),)
        )
    if callable(value):
        return Rotation(callables=(_rotation_callable(value, key),))
    if not isinstance(value, str):
        raise _bad(key, value, ROTATION_FORMS)
    text = value.strip().lower()
    if text == "daily":
        return Rotation(boundaries=(_next_time_of_day(0, 0, 0, None),))
    if text == "hourly":
        return Rotation(boundaries=(_next_hour,))
    if text == "weekly":
        return Rotation(boundaries=(_next_time_of_day(0, 0, 0, 0),))
    if text == "monthly":
        return Rotation(boundaries=(_next_month,))
    if text == "yearly":
        return Rotation(boundaries=(_next_year,))
    m = _HHMM.match(text)
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return Rotation(boundaries=(_next_time_of_day(h, mi, s, None),))
    parts = text.split()
    if parts and (parts[0] in _WEEKDAYS or parts[0] == "daily"):
        day = _WEEKDAYS.get(parts[0])
        rest = " ".join(parts[1:])
        h = mi = s = 0
        if rest:
            m = _HHMM.match(rest if rest.startswith("at") else f"at {rest}")
            if not m:
                raise _bad(key, value, ROTATION_FORMS)
            h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return Rotation(boundaries=(_next_time_of_day(h, mi, s, day),))
    size = parse_size(text)
    if size is not None:
        if size <= 0:
            raise ConfigError(f"config {key!r}: a size must be positive, got {value!r}.")
        return Rotation(size=size)
    seconds = parse_duration(text)
    if seconds is not None:
        if seconds <= 0:
            raise ConfigError(f"config {key!r}: an interval must be positive, got {value!r}.")
        return Rotation(boundaries=(_interval(seconds),))
    raise _bad(key, value, ROTATION_FORMS)


def _rotation_callable(func: Callable[..., Any], key: str) -> Callable[[Any, FileInfo], bool]:
    """``func`` as a ``(record, file_info) -> bool`` callable, whatever its arity.

    A one-argument callable (LakeTrace 1.x style, or ``lambda r: ...``) gets the record; one
    without arguments is just called. Decided once here, not per record.
    """
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: call them as documented
        return func
    for args in (("record", "file"), ("record",), ()):
        try:
            sig.bind(*args)
        except TypeError:
            continue
        if len(args) == 2:
            return func
        if len(args) == 1:
            return lambda rec, info: func(rec)
        return lambda rec, info: func()
    raise ConfigError(
        f"config {key!r}: the rotation callable {func!r} takes neither (record, file_info) "
        "nor (record) nor no arguments. Give a callable (record, file_info) -> bool."
    )


def parse_rotation(value: object, *, key: str = "rotation") -> Rotation | None:
    """Parse any accepted rotation form (or a list of them) into one `Rotation`."""
    if value is None:
        return None
    items: Sequence[object] = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        return None
    parts = [_parse_rotation_item(v, key) for v in items]
    sizes = [p.size for p in parts if p.size]
    return Rotation(
        size=min(sizes) if sizes else None,
        boundaries=tuple(b for p in parts for b in p.boundaries),
        callables=tuple(c for p in parts for c in p.callables),
        text=repr(value),
    )


@dataclass(frozen=True)
class Retention:
    """A prepared retention policy over sealed files."""

    count: int | None = None
    max_age: float | None = None
    func: Callable[[list[str]], Any] | None = field(default=None)


def parse_retention(value: object, *, key: str = "retention") -> Retention | None:
    """Parse the ``retention`` config."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _bad(key, value, RETENTION_FORMS)
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(
                f"config {key!r}: keep at least 1 sealed file, got {value}. "
                "Use None to keep everything."
            )
        return Retention(count=value)
    if isinstance(value, _dt.timedelta):
        return Retention(max_age=_positive_age(key, value, value.total_seconds()))
    if callable(value):
        return Retention(func=value)
    if isinstance(value, str):
        files = _FILES.match(value.strip())
        if files is not None:  # "5 files": LakeTrace 1.x's count form
            return parse_retention(int(files.group(1)), key=key)
        seconds = parse_duration(value.strip())
        if seconds is not None:
            return Retention(max_age=_positive_age(key, value, seconds))
    raise _bad(key, value, RETENTION_FORMS)


def _positive_age(key: str, value: object, seconds: float) -> float:
    # an age of zero or less would delete every sealed file at the next seal
    if not seconds > 0:
        raise ConfigError(
            f"config {key!r}: an age must be positive, got {value!r} (it would delete every "
            "sealed file). Give e.g. '7 days' or timedelta(days=7); None keeps everything."
        )
    return seconds


def parse_compression(value: object, *, key: str = "compression") -> str | Callable | None:
    """Parse the ``compression`` config: a format name, a callable, or None."""
    if value is None:
        return None
    if callable(value):
        return value
    if isinstance(value, str):
        name = value.strip().lower().lstrip(".")
        if name == "none":  # LakeTrace 1.x's spelling of no compression
            return None
        name = {"gzip": "gz", "bzip2": "bz2", "lzma": "xz"}.get(name, name)
        if name in COMPRESSIONS:
            return name
    raise _bad(key, value, COMPRESSION_FORMS)
