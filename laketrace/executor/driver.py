"""The executor side's one link to the driver's loggers.

Executor code sits below `laketrace.log` in the package layers (the logger hands out task
loggers and proxies, so it imports this package, never the other way round). The log
package plugs a `DriverLink` in when it is imported; until then (or in a Python worker,
where no driver logger exists) records meant for the driver are dropped.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..record.levels import Level


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

    def emit(self, logger_name: str, level: Level, msg: str, **origin: Any) -> bool:
        """Write a record built elsewhere (``source`` and origin fields given)."""


_link: list[DriverLink | None] = [None]


def connect(link: DriverLink) -> None:
    """Plug the driver's logging in (called by `laketrace.log` at import)."""
    _link[0] = link


def link() -> DriverLink | None:
    """The driver link, or None where no driver logging is present."""
    return _link[0]
