"""Records that are not log calls: Spark listener events, executor records delivered to the
driver, stdlib records. They go through a logger's handlers (and redaction) with their own
source, call site and Spark context.

>>> from laketrace import get_logger
>>> log = get_logger("doc", {"log_dir": "/tmp/lt-doc", "stdout": False})
>>> ExternalSource("doc", source="listener", module="spark_listener").emit("INFO", "job ended")
True
"""

from __future__ import annotations

from typing import Any

from ..record.levels import Level, parse_level
from . import registry


class ExternalSource:
    """Writes records of one origin into the logger called ``logger_name``.

    The logger is looked up at each `emit`, so a logger replaced by a new config (a
    re-run notebook cell) keeps receiving them; without a live logger they are dropped.
    """

    def __init__(
        self,
        logger_name: str,
        *,
        source: str,
        module: str | None = None,
        function: str | None = None,
    ) -> None:
        self.logger_name = logger_name
        self.source = source
        self.module = module
        self.function = function

    def enabled(self, level: Level) -> bool:
        """True when a handler of the logger would take a record at ``level``."""
        core = registry.find_core(self.logger_name)
        return core is not None and level.no >= core.min_no

    def emit(
        self,
        level: Level | str | int,
        msg: str,
        *,
        fields: dict[str, Any] | None = None,
        inherit_context: bool = False,
        **origin: Any,
    ) -> bool:
        """Write one record; ``origin`` overrides the record's origin fields.

        Accepted ``origin`` keys: ``ts``, ``exc``, ``logger_name``, ``module``,
        ``function``, ``line``, ``file``, ``thread_id``, ``thread_name``, ``pid``,
        ``hostname``, ``record_id``, ``job``. Returns False when no logger took it.
        """
        core = registry.find_core(self.logger_name)
        lvl = parse_level(level)
        if core is None or lvl.no < core.min_no:
            return False
        origin.setdefault("module", self.module)
        origin.setdefault("function", self.function)
        rec = core.make_record(
            lvl,
            msg,
            extra=fields,
            source=self.source,
            inherit_context=inherit_context,
            **origin,
        )
        core.dispatch(rec)
        return True


def live_logger(name: str) -> Any:
    """The current `LakeTraceLogger` called ``name`` (None if there is none).

    A notebook cell re-run with a new config replaces a logger; holders of the old object
    (the Spark listener's handle) use this to follow the replacement.
    """
    core = registry.find_core(name)
    return core.root if core is not None else None
