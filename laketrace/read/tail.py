"""The last N records of a spool directory, human-formatted (`log.tail`, `laketrace tail`)."""

from __future__ import annotations

import collections
import os
import sys
from typing import Any

from ..record.format import human_from_lake
from ..record.levels import parse_level
from ..spool.names import list_spool
from ..spool.read import read_records


def tail_records(
    log_dir: str,
    n: int = 50,
    *,
    logger: str | None = None,
    level: str | None = None,
    file: Any = None,
    color: bool | None = None,
    print_out: bool = True,
) -> list[dict[str, Any]]:
    """The last ``n`` records (optionally of one logger, at or above ``level``); prints them."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"tail: n must be a non-negative int, got {n!r}.")
    min_no = parse_level(level).no if level else 0
    want: collections.deque[dict[str, Any]] = collections.deque(maxlen=n or None)
    files = list_spool(log_dir, logger=logger)
    for path, _ in files:
        try:
            for rec in read_records(path):
                if logger is not None and rec.get("logger") != logger:
                    continue
                if (rec.get("level_no") or 0) >= min_no:
                    want.append(rec)
        except (OSError, EOFError):
            continue  # rotated or compressed under our feet; the rest is still useful
    out = list(want)[-n:] if n else []
    if print_out:
        stream = file or sys.stdout
        if color is None:
            try:
                color = stream.isatty() and "NO_COLOR" not in os.environ
            except Exception:
                color = False
        for rec in out:
            stream.write(human_from_lake(rec, color=bool(color)) + "\n")
    return out
