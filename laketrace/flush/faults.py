"""Fault injection for crash tests of the flush protocol.

Points: ``"before_commit"``, ``"during_quarantine"``, ``"after_commit"``. A test either sets
`fault_hook` (called with the point) or runs a subprocess with ``LAKETRACE_FAULT=<point>``,
which makes the process die right there (``os._exit(77)``), as a crash would.
"""

from __future__ import annotations

import os
from collections.abc import Callable

#: test hook called with the name of each fault point as the flush passes it
fault_hook: Callable[[str], None] | None = None


def fault(point: str) -> None:
    """Pass the fault point ``point``."""
    if fault_hook is not None:
        fault_hook(point)
    if os.environ.get("LAKETRACE_FAULT") == point:
        os._exit(77)  # simulate the process dying right here
