"""A logger's configuration: the raw `get_logger` dict validated once into `LoggerConfig`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..record.levels import Level, parse_level
from ..runtime import default_log_dir
from ..sinks.options import HandlerOptions, check_keys, parse_bool, parse_handler_options
from ..spool._fs import make_private_dirs
from ..storage import StorageOptions, check_storage_options
from ..targets import check_path, check_table
from . import legacy
from .redact import Redactor, compile_redactor

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
    "storage_options",
)
_NETWORK_PREFIXES = ("/dbfs/", "/Volumes/", "/Workspace/", "/lakehouse/", "/synfs/")


def prepare_log_dir(value: object) -> str:
    """Validate, create and check ``log_dir``; errors surface at `get_logger` time.

    Directories LakeTrace creates (``log_dir`` and missing parents) get mode 0700.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"config 'log_dir': expected a directory path, got {value!r}.")
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise ConfigError(
            f"config 'log_dir': {text!r} is not a directory path (empty, or a NUL character). "
            "Give a local directory, e.g. log_dir='/tmp/laketrace', or leave log_dir out for "
            "the runtime's default."
        )
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
        make_private_dirs(path)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(
            f"config 'log_dir': cannot create {path!r} ({reason}). Choose a writable local "
            "directory, e.g. log_dir='/tmp/laketrace'."
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
    """A logger's validated configuration (``log_dir`` None: no spool files)."""

    log_dir: str | None
    level: Level
    stdout: bool
    handler: HandlerOptions
    stdout_handler: HandlerOptions
    redact: Redactor | None
    path: str | None
    table: str | None
    clock: Callable[[], float]
    run_id: str | None
    executor_stderr: bool
    #: LakeTrace 1.x's ``sanitize_messages``: escape newlines in every message
    sanitize: Callable[[Any], str] | None = None
    #: delta-rs options for an object-store target (repr shows keys only)
    storage_options: StorageOptions = field(default_factory=StorageOptions)


def _log_dir(raw: Mapping[str, Any], runtime: str) -> str | None:
    """The spool directory: the runtime default when the key is absent, None (no spool)
    when it is given as None (LakeTrace 1.x's meaning)."""
    if "log_dir" not in raw:
        return prepare_log_dir(default_log_dir(runtime))
    if raw["log_dir"] is None:
        if raw.get("path") is not None or raw.get("table") is not None:
            raise ConfigError(
                "config: log_dir=None writes no spool files, so a flush target ('path' or "
                "'table') would never receive anything. Leave log_dir out (the runtime's "
                "default directory) or give a local directory to ship records to Delta."
            )
        return None
    return prepare_log_dir(raw["log_dir"])


def parse_logger_config(raw: Mapping[str, Any] | None, runtime: str) -> LoggerConfig:
    """Validate a `get_logger` config dict (LakeTrace 1.x keys translated first)."""
    translated = legacy.translate(raw or {})
    raw = translated.config
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
    if raw.get("path") is not None:
        check_path(raw["path"], what="config 'path':")
    if raw.get("table") is not None:
        check_table(raw["table"], what="config 'table':")
    if raw.get("path") is not None and raw.get("table") is not None:
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
        log_dir=_log_dir(raw, runtime),
        level=level,
        stdout=parse_bool(raw, "stdout", True),
        handler=spool,
        stdout_handler=stream,
        redact=compile_redactor(raw.get("redact", False)),
        path=os.fspath(raw["path"]) if raw.get("path") is not None else None,
        table=check_table(raw["table"]) if raw.get("table") is not None else None,
        clock=clock,
        run_id=run_id,
        executor_stderr=parse_bool(raw, "executor_stderr", False),
        sanitize=legacy.escape_newlines if translated.sanitize else None,
        storage_options=check_storage_options(
            raw.get("storage_options"), what="config 'storage_options'"
        ),
    )
