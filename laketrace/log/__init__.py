"""The logging API: `get_logger`, `LakeTraceLogger`, its per-logger core, configuration,
context (``contextualize`` and Spark job context), redaction, the stdlib bridge, records
from other sources, and the process-wide registry with its fork and exit hooks."""

from __future__ import annotations

from .context import set_job_context
from .driver_link import connect_executors
from .external import ExternalSource, live_logger
from .logger import LakeTraceLogger, get_logger
from .stdlib import capture_stdlib

connect_executors()  # executor proxies on the driver log through these loggers

__all__ = [
    "ExternalSource",
    "LakeTraceLogger",
    "capture_stdlib",
    "get_logger",
    "live_logger",
    "set_job_context",
]
