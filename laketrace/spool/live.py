"""This process's live writers, as the flush step needs them: `seal_active`.

The flush ships sealed files only, so records logged since a logger's last rotation would
wait in its active file. Before a flush reads a spool directory, `seal_active` asks the
registered sealers to seal this process's active files in it. The log package registers
its sealer when imported (`laketrace.log.registry`): it sits above the flush in the
package layers, so the flush reaches it through this hook instead of an import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

_sealers: list[Callable[[str], int]] = []


def register_sealer(sealer: Callable[[str], int]) -> None:
    """Add ``sealer(log_dir) -> files sealed`` (once)."""
    if sealer not in _sealers:
        _sealers.append(sealer)


def seal_active(log_dir: str) -> int:
    """Seal this process's active spool files in ``log_dir``; returns how many were sealed.

    Never raises: a sealer that fails is reported on stderr and the flush goes on with
    what is sealed.
    """
    sealed = 0
    for sealer in list(_sealers):
        try:
            sealed += sealer(log_dir)
        except Exception as exc:
            sys.stderr.write(f"LakeTrace: sealing the active spool files failed: {exc!r}\n")
    return sealed


__all__ = ["register_sealer", "seal_active"]
