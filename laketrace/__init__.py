"""LakeTrace: structured logging for PySpark that lands in Delta tables.

>>> from laketrace import get_logger
>>> log = get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False})
>>> log.info("loaded {} rows", 42, table="sales")
"""

from __future__ import annotations

from . import runtime
from .errors import ConfigError, FlushError, LakeTraceError, SchemaMismatchError
from .flush import FlushResult, flush_to_delta
from .log import LakeTraceLogger, capture_stdlib, get_logger
from .read.query import create_views, query
from .read.report import ReportResult, write_report
from .read.vacuum import VacuumResult, vacuum
from .record import Level, Record
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
    "Record",
    "RecoverResult",
    "ReportResult",
    "SPARK_LOG_SCHEMA",
    "SchemaMismatchError",
    "VacuumResult",
    "__version__",
    "capture_stdlib",
    "create_views",
    "flush_to_delta",
    "get_logger",
    "query",
    "recover",
    "runtime",
    "vacuum",
    "write_report",
]
