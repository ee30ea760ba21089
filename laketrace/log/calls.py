"""Call-site and thread lookups of the hot path (`Core.emit`, `emit_masked`), cached."""

from __future__ import annotations

import threading
from typing import Any

from ..record.sanitize import safe_str

_current_thread = threading.current_thread
#: threading's own map of thread ids to Thread objects (what current_thread() looks up)
threads: dict[int, Any] = getattr(threading, "_active", {})


def thread_name() -> str:
    """The current thread's name."""
    return _current_thread().name


if isinstance(getattr(threading.main_thread(), "_name", None), str):
    # Thread.name is a Python property; its backing attribute is ~3x cheaper to read
    def thread_name() -> str:
        return _current_thread()._name  # type: ignore[attr-defined]


#: call sites seen: id(code) + (instruction offset << 48) -> (code, module, line); the
#: line of a frame is a scan of its code's line table (the costliest part of a call site)
sites: dict[int, tuple[Any, str | None, int | None]] = {}


def call_site(f: Any) -> tuple[Any, str | None, int | None]:
    """Module and line of frame ``f``, remembered for its code object and offset."""
    module = f.f_globals.get("__name__")
    if type(module) is not str:
        module = None if module is None else safe_str(module)
    if len(sites) > 8192:
        sites.clear()
    code = f.f_code
    # the entry holds the code object, so its id cannot be reused while cached
    site = sites[id(code) + (f.f_lasti << 48)] = (code, module, f.f_lineno)
    return site
