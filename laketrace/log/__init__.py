"""The logging API: `get_logger`, `LakeTraceLogger`, its per-logger core, configuration,
context (``contextualize`` and Spark job context), redaction, the stdlib bridge, records
from other sources, and the process-wide registry with its fork and exit hooks."""

from __future__ import annotations

from .context import set_job_context
from .external import ExternalSource
from .logger import LakeTraceLogger, get_logger
from .stdlib import capture_stdlib

__all__ = ["ExternalSource", "LakeTraceLogger", "capture_stdlib", "get_logger", "set_job_context"]
