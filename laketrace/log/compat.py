"""LakeTrace 1.x's public names that are not configuration: ``Logger``, ``create_logger``
and ``stop_spark_if_active`` (the 1.x text helpers live in `legacy` and `structured`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .logger import LakeTraceLogger, build_logger


def create_logger(
    name: str, config: Mapping[str, Any] | None = None, run_id: str | None = None
) -> LakeTraceLogger:
    """A new logger for ``name``, always (LakeTrace 1.x's factory).

    Unlike `get_logger`, which returns the existing logger for the same name and config,
    this replaces any logger of that name (its spool file is sealed) with a fresh one.
    """
    return build_logger(name, config, run_id, reuse=False)


class _LoggerClass(type):
    """Makes ``Logger(name, config)`` build a logger and ``isinstance(x, Logger)`` true for
    every LakeTrace logger."""

    def __call__(cls, name: str, config: Mapping[str, Any] | None = None,
                 run_id: str | None = None) -> LakeTraceLogger:  # fmt: skip
        return create_logger(name, config, run_id)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, LakeTraceLogger)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, LakeTraceLogger)


class Logger(metaclass=_LoggerClass):
    """LakeTrace 1.x's logger class name: ``Logger(name, config=None, run_id=None)`` makes a
    new logger (as `create_logger`), and every LakeTrace logger is an instance of it.

    >>> log = Logger("doc.compat", {"log_dir": "/tmp/lt-doc", "stdout": False})
    >>> isinstance(log, Logger)
    True
    """


def stop_spark_if_active() -> None:
    """Stop the active SparkSession, if pyspark is imported and one is running (LakeTrace
    1.x's helper); never raises."""
    import sys

    mod = sys.modules.get("pyspark.sql.session")
    if mod is None:
        return
    try:
        spark = mod.SparkSession.getActiveSession()
        if spark is not None:
            spark.stop()
    except Exception:
        pass


__all__ = ["Logger", "create_logger", "stop_spark_if_active"]
