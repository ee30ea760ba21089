"""The logging API: `get_logger`, `LakeTraceLogger`, its per-logger core, configuration,
context (``contextualize`` and Spark job context), redaction, the stdlib bridge, records
from other sources, and the process-wide registry with its fork and exit hooks."""

from __future__ import annotations

from .companion import CompanionFiles, companion_prefix
from .compat import Logger, create_logger, stop_spark_if_active
from .context import set_job_context
from .driver_link import connect_executors
from .external import ExternalSource, live_logger
from .legacy import escape_format_strings, escape_newlines, sanitize_message
from .logger import LakeTraceLogger, get_logger
from .stdlib import capture_stdlib
from .structured import mask_pii

connect_executors()  # executor proxies on the driver log through these loggers

__all__ = [
    "CompanionFiles",
    "ExternalSource",
    "LakeTraceLogger",
    "Logger",
    "capture_stdlib",
    "companion_prefix",
    "create_logger",
    "escape_format_strings",
    "escape_newlines",
    "get_logger",
    "live_logger",
    "mask_pii",
    "sanitize_message",
    "set_job_context",
    "stop_spark_if_active",
]
