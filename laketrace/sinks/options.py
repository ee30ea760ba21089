"""Per-handler options, validated once into a frozen `HandlerOptions` (the hot path never sees
raw config); shared by the spool, plain files, streams and callables."""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..record.format import FORMAT_FIELDS, field_problem
from ..record.levels import Level, parse_level
from ..record.message import MAX_WIDTH, spec_problem
from .rotation import (
    Retention,
    Rotation,
    parse_compression,
    parse_retention,
    parse_rotation,
)

HANDLER_KEYS = (
    "sink",
    "level",
    "filter",
    "formatter",
    "format",
    "json",
    "serialize",
    "catch",
    "enqueue",
    "queue_size",
    "queue_full",
    "rotation",
    "retention",
    "compression",
    "file_mode",
    "colorize",
)


def check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    """Raise `ConfigError` for unknown keys, suggesting the closest allowed key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{what} must be a dict of options, got {type(raw).__name__}: {raw!r}.")
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{what}: unknown key {key!r}.{hint} Accepted keys: {', '.join(sorted(allowed))}."
            )


def parse_filter(value: object, *, key: str = "filter") -> Callable[[Any], bool] | None:
    """A callable ``record -> bool``, a logger-name prefix, or ``{prefix: level}``."""
    if value is None:
        return None
    if callable(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        prefix = value
        dotted = prefix + "."
        return lambda r: r.logger_name == prefix or r.logger_name.startswith(dotted)
    if isinstance(value, Mapping):
        rules = sorted(
            ((str(k), parse_level(v, key=f"{key}[{k!r}]").no) for k, v in value.items()),
            key=lambda kv: -len(kv[0]),
        )

        def by_prefix(r: Any) -> bool:
            name = r.logger_name
            for prefix, no in rules:
                if prefix == "" or name == prefix or name.startswith(prefix + "."):
                    return r.level_no >= no
            return True

        return by_prefix
    raise ConfigError(
        f"config {key!r}: expected a callable (record) -> bool, a logger-name prefix string "
        f"or a dict {{prefix: level}}, got {value!r}."
    )


def parse_format(value: object, *, key: str = "format") -> str | None:
    """Validate a ``str.format`` template against the record fields it may use."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"config {key!r}: expected a str.format template, got {value!r}.")
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ConfigError(
            f"config {key!r}: {value!r} is not a valid template ({exc}); double literal braces "
            "as '{{' and '}}'."
        ) from None
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        problem = field_problem(field_name)
        if problem == "unknown field":
            root = field_name.split(".")[0].split("[")[0]
            close = difflib.get_close_matches(root, FORMAT_FIELDS, n=1)
            hint = f" Did you mean {{{close[0]}}}?" if close else ""
            raise ConfigError(
                f"config {key!r}: unknown field {{{field_name}}} in {value!r}.{hint} "
                f"Available: {', '.join(FORMAT_FIELDS)}, {{extra[key]}}, {{level.no}}."
            )
        if problem is None and conversion not in (None, "r", "s", "a"):
            problem = f"conversion !{conversion} (use !r, !s or !a)"
        if problem is None:
            problem = spec_problem(spec or "")
        if problem is not None:
            raise ConfigError(
                f"config {key!r}: field {{{field_name}}} in {value!r} is not allowed: {problem}. "
                f"A template names record fields ({', '.join(FORMAT_FIELDS)}), {{extra[key]}} "
                f"or {{level.no}}, with an optional !r/!s/!a and a format spec with widths "
                f"up to {MAX_WIDTH}, e.g. '{{time}} {{level:<8}} {{message}} {{extra[step]}}'."
            )
    return value


def parse_bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config {key!r}: expected True or False, got {value!r}.")
    return value


def _callable_or_none(raw: Mapping[str, Any], key: str, what: str) -> Any:
    value = raw.get(key)
    if value is not None and not callable(value):
        raise ConfigError(f"config {key!r}: expected {what}, got {value!r}.")
    return value


FILE_MODE_FORMS = (
    "owner read+write, optionally read for group/others: 0o600 (the default), 0o640 or "
    "0o644 (an int, or an octal string like '640')"
)


def _file_mode(raw: Mapping[str, Any]) -> int:
    value = raw.get("file_mode", 0o600)
    mode = value
    if isinstance(mode, str):
        try:
            mode = int(mode, 8)
        except ValueError:
            pass
    if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o777:
        raise ConfigError(f"config 'file_mode': expected {FILE_MODE_FORMS}, got {value!r}.")
    # the owner must be able to write (else records are lost); nobody else may write or
    # truncate the records; log files are never executable
    if mode & 0o600 != 0o600 or mode & 0o133:
        raise ConfigError(
            f"config 'file_mode': {value!r} ({oct(mode)}) is refused: expected "
            f"{FILE_MODE_FORMS}. Write and execute bits for group/others are never allowed."
        )
    return mode


@dataclass(frozen=True)
class HandlerOptions:
    """Per-handler options shared by the spool, files, streams and callables."""

    level: Level
    filter: Callable[[Any], bool] | None = None
    formatter: Callable[[Any], str] | None = None
    format: str | None = None
    json: bool = False
    serialize: bool = False
    catch: bool = True
    enqueue: bool = False
    queue_size: int = 10_000
    queue_full: str = "block"
    rotation: Rotation | None = None
    retention: Retention | None = None
    compression: Any = None
    file_mode: int = 0o600
    colorize: bool | None = None


def parse_handler_options(raw: Mapping[str, Any], *, default_level: Level) -> HandlerOptions:
    """Validate the per-handler subset of options in ``raw``."""
    queue_size = raw.get("queue_size", 10_000)
    if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1:
        raise ConfigError(f"config 'queue_size': expected a positive int, got {queue_size!r}.")
    queue_full = raw.get("queue_full", "block")
    if queue_full not in ("block", "drop"):
        raise ConfigError(
            f"config 'queue_full': expected 'block' (wait for space) or 'drop' (count and "
            f"drop), got {queue_full!r}."
        )
    colorize = raw.get("colorize")
    if colorize is not None and not isinstance(colorize, bool):
        raise ConfigError(f"config 'colorize': expected True, False or None, got {colorize!r}.")
    return HandlerOptions(
        level=parse_level(raw["level"]) if "level" in raw else default_level,
        filter=parse_filter(raw.get("filter")),
        formatter=_callable_or_none(raw, "formatter", "a callable (record) -> str"),
        format=parse_format(raw.get("format")),
        json=parse_bool(raw, "json", False),
        serialize=parse_bool(raw, "serialize", False),
        catch=parse_bool(raw, "catch", True),
        enqueue=parse_bool(raw, "enqueue", False),
        queue_size=queue_size,
        queue_full=queue_full,
        rotation=parse_rotation(raw.get("rotation")),
        retention=parse_retention(raw.get("retention")),
        compression=parse_compression(raw.get("compression")),
        file_mode=_file_mode(raw),
        colorize=colorize,
    )
