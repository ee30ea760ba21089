"""LakeTrace: structured logging for PySpark that lands in Delta tables.

>>> from laketrace import get_logger
>>> log = get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False})
>>> log.info("loaded {} rows", 42, table="sales")
"""

from __future__ import annotations

from . import runtime
from .errors import ConfigError, FlushError, LakeTraceError, SchemaMismatchError, StorageError
from .flush import FlushResult, flush_to_delta
from .log import (
    LakeTraceLogger,
    Logger,
    capture_stdlib,
    create_logger,
    escape_format_strings,
    escape_newlines,
    get_logger,
    mask_pii,
    sanitize_message,
    stop_spark_if_active,
)
from .read.query import create_views, query
from .read.report import ReportResult, write_report
from .read.vacuum import VacuumResult, vacuum
from .record import Level, Record
from .runtime import RuntimeInfo
from .runtime import describe_runtime as detect_runtime
from .schema import SPARK_LOG_SCHEMA
from .spool.recover import RecoverResult, recover

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FlushError",
    "FlushResult",
    "LakeTraceError",
    "LakeTraceLogger",
    "Level",
    "Logger",
    "Record",
    "RecoverResult",
    "ReportResult",
    "RuntimeInfo",
    "SPARK_LOG_SCHEMA",
    "SchemaMismatchError",
    "StorageError",
    "VacuumResult",
    "__version__",
    "capture_stdlib",
    "create_logger",
    "create_views",
    "detect_runtime",
    "escape_format_strings",
    "escape_newlines",
    "flush_to_delta",
    "get_logger",
    "mask_pii",
    "query",
    "recover",
    "runtime",
    "sanitize_message",
    "stop_spark_if_active",
    "vacuum",
    "write_report",
]
