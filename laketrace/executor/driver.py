"""The executor side's one link to the driver's loggers.

Executor code sits below `laketrace.log` in the package layers (the logger hands out task
loggers and proxies, so it imports this package, never the other way round). The log
package plugs a `DriverLink` in when it is imported (`laketrace.log.driver_link`), so on a
driver it is always connected; in a Python worker no driver logger exists and the proxy
buffers records for the driver instead of calling this.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..record.levels import Level
from ..record.record import JobContext


class DriverLink(Protocol):
    """What executor code may ask of the driver's logging."""

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
        """Log like a call on the driver logger; the call site is ``stacklevel`` frames up."""

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
        """Write a record built elsewhere; ``origin`` as `laketrace.log.ExternalSource.emit`.
        False when no logger of that name took it."""


_link: list[DriverLink | None] = [None]


def connect(link: DriverLink) -> None:
    """Plug the driver's logging in (called by `laketrace.log` at import)."""
    _link[0] = link


def link() -> DriverLink | None:
    """The driver link, or None where no driver logging is present."""
    return _link[0]
