"""Fault injection for crash tests of the flush protocol.

Points, in the order a batch passes them: ``"after_plan"`` (its ``planned`` entry is in
the ledger), ``"before_commit"`` (files prepared), ``"during_quarantine"`` and
``"between_commits"`` (between the quarantine commit and the main commit, whichever the
writer makes first), ``"after_commit"`` (both commits done, ledger not updated),
``"torn_ledger"`` (dies half way through writing the ``committed`` entry) and
``"after_ledger"``. A test either sets `fault_hook` (called with the point) or runs a
subprocess with ``LAKETRACE_FAULT=<point>`` (or ``<point>@<n>``: the n-th time it is
passed), which makes the process die right there (``os._exit(77)``), as a crash would.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

POINTS = (
    "after_plan",
    "before_commit",
    "during_quarantine",
    "between_commits",
    "after_commit",
    "torn_ledger",
    "after_ledger",
)
#: exit status of a process killed at a fault point
EXIT_CODE = 77

#: test hook called with the name of each fault point as the flush passes it
fault_hook: Callable[[str], None] | None = None
_passes: Counter[str] = Counter()


def armed(point: str) -> bool:
    """Whether ``LAKETRACE_FAULT`` asks to die at this pass of ``point`` (counts the pass)."""
    spec = os.environ.get("LAKETRACE_FAULT")
    if not spec:
        return False
    name, _, nth = spec.partition("@")
    if name != point:
        return False
    _passes[point] += 1
    return _passes[point] == (int(nth) if nth.isdigit() else 1)


def die() -> None:
    """End the process at once, as a crash would (no cleanup, no atexit)."""
    os._exit(EXIT_CODE)


def fault(point: str) -> None:
    """Pass the fault point ``point``."""
    if fault_hook is not None:
        fault_hook(point)
    if armed(point):
        die()
