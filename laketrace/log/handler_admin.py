"""Adding, attaching and removing a logger's handlers (the part of `Core` that changes
handlers; `Core.refresh` recomputes the hot path after each change)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..record.levels import LEVELS
from ..record.record import Record
from ..sinks.enqueue import QueuedHandler
from ..sinks.files import TextFileHandler
from ..sinks.handlers import CallableHandler, Handler, StreamHandler
from ..sinks.options import HANDLER_KEYS, check_keys, parse_handler_options
from . import registry


class HandlerAdmin:
    """Mixin of `laketrace.log.core.Core`: its handler set (``own``) and how it changes."""

    own: dict[int, Handler]
    spool: Any
    name: str
    config: Any
    lock: Any
    redact: Any

    # provided by Core
    next_id: Any
    refresh: Any
    make_record: Any

    def add_handler(self, spec: Mapping[str, Any]) -> int:
        """Add the sink described by ``spec``; the same spec twice returns the first id."""
        check_keys(spec, HANDLER_KEYS, "add_handler")
        if "sink" not in spec:
            raise ConfigError(
                "add_handler: 'sink' is required: 'stdout', 'stderr', a file path or a "
                "callable, e.g. log.add_handler({'sink': 'stderr', 'level': 'WARNING'})."
            )
        sink = spec["sink"]
        key = registry.freeze(spec)
        with self.lock:
            for hid, h in self.own.items():
                if getattr(h, "_spec_key", None) == key:
                    return hid
            opts = parse_handler_options(spec, default_level=self.config.level)
            hid = self.next_id()
            handler: Handler
            if sink in ("stdout", "stderr"):
                handler = StreamHandler(hid, opts, sink)
            elif isinstance(sink, (str, os.PathLike)):
                handler = TextFileHandler(hid, opts, os.fspath(sink))
            elif callable(sink):
                handler = CallableHandler(hid, opts, sink)
            else:
                raise ConfigError(
                    f"add_handler 'sink': expected 'stdout', 'stderr', a file path or a "
                    f"callable, got {sink!r}."
                )
            handler = self.attach(hid, self.wrap(handler))
            handler._spec_key = key  # type: ignore[attr-defined]
            return hid

    def attach(self, hid: int, handler: Handler) -> Handler:
        """Install ``handler`` under ``hid`` and recompute the fast paths."""
        with self.lock:
            self.own[hid] = registry.track(handler)
            self.refresh(registry.captures())
        return handler

    def remove_handler(self, hid: int) -> Handler:
        """Detach the handler with id ``hid`` (not closed yet); ValueError if there is none."""
        with self.lock:
            handler = self.own.pop(hid, None)
            if handler is None:
                raise ValueError(
                    f"no handler with id {hid!r} on logger {self.name!r}; existing ids: "
                    f"{sorted(self.own)}."
                )
            if handler is self.spool or getattr(handler, "inner", None) is self.spool:
                self.spool = None
            self.refresh(registry.captures())
        return handler

    def wrap(self, handler: Handler) -> Handler:
        """Put ``handler`` behind a writer thread when its options say ``enqueue=True``."""
        if not handler.opts.enqueue:
            return handler
        return QueuedHandler(handler, self._drop_notice)

    def _drop_notice(self, dropped: int) -> Record:
        rec = self.make_record(
            LEVELS["WARNING"],
            f"LakeTrace dropped {dropped} record(s): the enqueue queue was full "
            "(queue_full='drop'). Raise queue_size or use queue_full='block' to keep them.",
            extra={"dropped": dropped},
            module="laketrace.sinks.enqueue",
            function="QueuedHandler.handle",
        )
        if self.redact is not None:  # it skips dispatch: mask its logger name here
            self.redact.record(rec)
        return rec
