"""Validate raw config dicts once into frozen dataclasses (the hot path never sees raw config)."""

from __future__ import annotations

import difflib
import os
import string
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ConfigError
from ._levels import Level, parse_level
from ._redact import compile_redactor
from ._rotation import (
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
LOGGER_KEYS = (
    "log_dir",
    "level",
    "stdout",
    "json",
    "serialize",
    "format",
    "formatter",
    "filter",
    "rotation",
    "retention",
    "compression",
    "enqueue",
    "queue_size",
    "queue_full",
    "catch",
    "redact",
    "path",
    "table",
    "file_mode",
    "clock",
    "run_id",
    "executor_stderr",
)
FORMAT_FIELDS = (
    "time",
    "ts",
    "level",
    "level_no",
    "message",
    "msg",
    "name",
    "logger",
    "logger_name",
    "module",
    "function",
    "line",
    "file",
    "thread_name",
    "thread_id",
    "pid",
    "hostname",
    "host",
    "run_id",
    "record_id",
    "source",
    "runtime",
    "extra",
    "exception",
    "app_id",
    "app_name",
    "job_id",
    "stage_id",
    "partition_id",
    "task_attempt",
    "job_group",
    "notebook",
)
_NETWORK_PREFIXES = ("/dbfs/", "/Volumes/", "/Workspace/", "/lakehouse/", "/synfs/")


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
    for _, field_name, _, _ in parsed:
        if field_name is None:
            continue
        root = field_name.split(".")[0].split("[")[0]
        if root not in FORMAT_FIELDS:
            close = difflib.get_close_matches(root, FORMAT_FIELDS, n=1)
            hint = f" Did you mean {{{close[0]}}}?" if close else ""
            raise ConfigError(
                f"config {key!r}: unknown field {{{root}}} in {value!r}.{hint} "
                f"Available: {', '.join(FORMAT_FIELDS)}."
            )
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config {key!r}: expected True or False, got {value!r}.")
    return value


def _callable_or_none(raw: Mapping[str, Any], key: str, what: str) -> Any:
    value = raw.get(key)
    if value is not None and not callable(value):
        raise ConfigError(f"config {key!r}: expected {what}, got {value!r}.")
    return value


def _file_mode(raw: Mapping[str, Any]) -> int:
    value = raw.get("file_mode", 0o600)
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777:
        raise ConfigError(
            f"config 'file_mode': expected permission bits like 0o600 or '640', got {value!r}."
        )
    return value


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
        json=_bool(raw, "json", False),
        serialize=_bool(raw, "serialize", False),
        catch=_bool(raw, "catch", True),
        enqueue=_bool(raw, "enqueue", False),
        queue_size=queue_size,
        queue_full=queue_full,
        rotation=parse_rotation(raw.get("rotation")),
        retention=parse_retention(raw.get("retention")),
        compression=parse_compression(raw.get("compression")),
        file_mode=_file_mode(raw),
        colorize=colorize,
    )


def default_log_dir(runtime: str) -> str:
    """Where the spool lives when ``log_dir`` is not given (always a local disk)."""
    env = os.environ.get("LAKETRACE_LOG_DIR")
    if env:
        return env
    if runtime == "databricks" and os.path.isdir("/local_disk0"):
        return "/local_disk0/laketrace/spool"
    if runtime in ("fabric", "synapse"):
        return os.path.join(tempfile.gettempdir(), "laketrace", "spool")
    return os.path.join(os.getcwd(), ".laketrace", "spool")


def prepare_log_dir(value: object) -> str:
    """Validate, create and check ``log_dir``; errors surface at `get_logger` time."""
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"config 'log_dir': expected a directory path, got {value!r}.")
    text = os.fspath(value)
    if "://" in text or text.startswith(("dbfs:", "abfss:")):
        raise ConfigError(
            f"config 'log_dir': {text!r} is a remote URI. The spool must be on fast local disk "
            "(e.g. '/tmp/laketrace' or '/local_disk0/laketrace'); give the lakehouse location "
            "as the flush target instead: config {'path': ...} or {'table': ...}."
        )
    path = os.path.abspath(os.path.expanduser(text))
    if path.startswith(_NETWORK_PREFIXES) or path in {p.rstrip("/") for p in _NETWORK_PREFIXES}:
        raise ConfigError(
            f"config 'log_dir': {path!r} is a network (FUSE) mount. The spool must be on local "
            "disk; set the lakehouse location as the flush target with config {'path': ...}."
        )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"config 'log_dir': cannot create {path!r} ({exc.strerror or exc}). Choose a "
            "writable local directory, e.g. log_dir='/tmp/laketrace'."
        ) from None
    if not os.path.isdir(path):
        raise ConfigError(f"config 'log_dir': {path!r} exists but is not a directory.")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"config 'log_dir': {path!r} is not writable by this process (uid {os.getuid()}). "
            "Fix its permissions or choose another local directory."
        )
    return path


@dataclass(frozen=True)
class LoggerConfig:
    """A logger's validated configuration."""

    log_dir: str
    level: Level
    stdout: bool
    handler: HandlerOptions
    stdout_handler: HandlerOptions
    redact: Callable[[str], str] | None
    path: str | None
    table: str | None
    clock: Callable[[], float]
    run_id: str | None
    executor_stderr: bool


def parse_logger_config(raw: Mapping[str, Any] | None, runtime: str) -> LoggerConfig:
    """Validate a `get_logger` config dict."""
    raw = dict(raw or {})
    check_keys(raw, LOGGER_KEYS, "get_logger config")
    level = parse_level(raw.get("level", "INFO"))
    clock = raw.get("clock", time.time)
    if not callable(clock):
        raise ConfigError(
            f"config 'clock': expected a callable returning epoch seconds, got {clock!r}."
        )
    run_id = raw.get("run_id")
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        raise ConfigError(f"config 'run_id': expected a non-empty string, got {run_id!r}.")
    for key in ("path", "table"):
        if raw.get(key) is not None and not isinstance(raw.get(key), (str, os.PathLike)):
            raise ConfigError(f"config {key!r}: expected a string, got {raw.get(key)!r}.")
    if raw.get("path") and raw.get("table"):
        raise ConfigError(
            "config: give either 'path' (a Delta table location) or 'table' (a catalog "
            "table name) as the flush target, not both."
        )
    spool_raw = {
        k: raw[k]
        for k in raw
        if k
        in (
            "rotation",
            "retention",
            "compression",
            "enqueue",
            "queue_size",
            "queue_full",
            "catch",
            "filter",
            "file_mode",
        )
    }
    spool = parse_handler_options(spool_raw, default_level=level)
    stream_raw = {
        k: raw[k]
        for k in raw
        if k in ("json", "serialize", "format", "formatter", "filter", "catch")
    }
    stream = parse_handler_options(stream_raw, default_level=level)
    return LoggerConfig(
        log_dir=prepare_log_dir(raw.get("log_dir") or default_log_dir(runtime)),
        level=level,
        stdout=_bool(raw, "stdout", True),
        handler=spool,
        stdout_handler=stream,
        redact=compile_redactor(raw.get("redact", False)),
        path=os.fspath(raw["path"]) if raw.get("path") else None,
        table=raw.get("table"),
        clock=clock,
        run_id=run_id,
        executor_stderr=_bool(raw, "executor_stderr", False),
    )
