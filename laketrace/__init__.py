"""LakeTrace: structured logging for PySpark that lands in Delta tables.

>>> from laketrace import get_logger
>>> log = get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False})
>>> log.info("loaded {} rows", 42, table="sales")
"""

from __future__ import annotations

from . import runtime
from ._errors import ConfigError, LakeTraceError
from ._levels import Level
from ._logger import LakeTraceLogger, get_logger
from ._query import create_views, query
from ._record import Record
from ._recover import RecoverResult, recover
from ._report import ReportResult, write_report
from ._stdlib import capture_stdlib
from ._vacuum import VacuumResult, vacuum
from .flush import FlushResult, flush_to_delta
from .schema import SPARK_LOG_SCHEMA

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FlushResult",
    "LakeTraceError",
    "LakeTraceLogger",
    "Level",
    "Record",
    "RecoverResult",
    "ReportResult",
    "SPARK_LOG_SCHEMA",
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
