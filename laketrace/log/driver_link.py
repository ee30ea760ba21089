"""The driver side of `laketrace.executor.driver`: executor code finds this process's loggers
through it. `laketrace.log` connects it when the package is imported (`connect_executors`)."""

from __future__ import annotations

from typing import Any

from ..executor import driver
from ..record.levels import Level
from ..record.record import JobContext
from . import registry
from .external import ExternalSource


class _DriverLink:
    """`laketrace.executor.driver.DriverLink` over this process's loggers."""

    def log_call(
        self,
        logger_name: str,
        bound: dict[str, Any],
        level: Level,
        msg: Any,
        args: tuple,
        fields: dict[str, Any],
        *,
        stacklevel: int,
    ) -> None:
        core = registry.find_core(logger_name)
        if core is None or level.no < core.min_no:
            return
        view = core.cls(core, bound) if bound else core.root
        # frames above core.emit: this method, its caller, then `stacklevel` more
        core.emit(level, msg, args, dict(fields), view, stacklevel + 2)

    def emit(
        self,
        logger_name: str,
        level: Level,
        msg: str,
        *,
        source: str,
        fields: dict[str, Any] | None = None,
        job: JobContext | None = None,
        **origin: Any,
    ) -> bool:
        return ExternalSource(logger_name, source=source).emit(
            level, msg, fields=fields, job=job, **origin
        )


def connect_executors() -> None:
    """Let executor code (proxies, accumulators) reach this process's loggers."""
    driver.connect(_DriverLink())
