"""Process-wide state of the loggers: live cores by name, handlers attached to every logger
(`laketrace.testing`), and the fork and exit hooks that keep them sane.

Fork safety lives here in one place: a forked child gets fresh locks, a fresh record-id
prefix, no inherited writer threads and no inherited open spool file (the parent's file is
the parent's to seal), so parent and child never write one file.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from ..sinks.handlers import Handler
from ..sinks.lifecycle import maintenance
from ..spool import live
from ..spool.ids import record_ids

# The registry holds `laketrace.log.core.Core` objects; it does not import that module
# (the core registers itself here), so the type is spelled Any.
Core = Any
_cores: dict[str, Core] = {}
_lock = threading.RLock()
_all_handlers: weakref.WeakSet[Handler] = weakref.WeakSet()
_captures: dict[int, Handler] = {}


def lock() -> threading.RLock:
    """The registry lock (held while a logger is created or replaced)."""
    return _lock


def find_core(name: str) -> Core | None:
    """The live core of the logger called ``name`` (None if there is none)."""
    return _cores.get(name)


def cores() -> list[Core]:
    with _lock:
        return list(_cores.values())


def put_core(core: Core) -> None:
    """Register ``core`` under its name (the caller holds `lock`)."""
    _cores[core.name] = core


def forget(name: str) -> None:
    """Drop the logger called ``name`` from the registry (tests use it between cases)."""
    with _lock:
        _cores.pop(name, None)


def track(handler: Handler) -> Handler:
    """Remember ``handler`` for the fork hook; returns it."""
    _all_handlers.add(handler)
    return handler


def captures() -> tuple[Handler, ...]:
    return tuple(_captures.values())


def add_capture(handler: Handler) -> None:
    """Attach ``handler`` to every logger (used by `laketrace.testing`)."""
    with _lock:
        _captures[id(handler)] = handler
        for core in _cores.values():
            core.refresh(captures())


def remove_capture(handler: Handler) -> None:
    with _lock:
        _captures.pop(id(handler), None)
        for core in _cores.values():
            core.refresh(captures())


def freeze(value: Any) -> Any:
    """A hashable, comparable key for a config (callables compare by identity)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(freeze(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def close_all() -> None:
    """Close every logger and let in-flight compression finish (interpreter exit)."""
    for core in cores():
        core.close()
    # an interrupted compression is cleaned up by recover()
    maintenance.drain(timeout=30)


def seal_dir(log_dir: str) -> int:
    """Seal the active spool file of every logger writing into ``log_dir`` (its queue drained
    first, with ``enqueue=True``); the loggers stay usable. Returns how many were sealed."""
    target = os.path.realpath(log_dir)
    sealed = 0
    for core in cores():
        spool = core.spool
        own_dir = core.config.log_dir
        if spool is None or own_dir is None or os.path.realpath(own_dir) != target:
            continue
        with core.lock:
            outer = [
                h for h in core.own.values() if h is spool or getattr(h, "inner", None) is spool
            ]
        for handler in outer:
            had_file = spool.file.path is not None
            handler.close()  # drains a queue, seals, waits for its compression
            sealed += had_file
    return sealed


def _after_fork_child() -> None:
    global _lock
    _lock = threading.RLock()
    record_ids.reset()
    maintenance.after_fork_child()
    for core in list(_cores.values()):
        core.after_fork_child()
    for h in list(_all_handlers):
        h.after_fork_child()


atexit.register(close_all)
live.register_sealer(seal_dir)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
