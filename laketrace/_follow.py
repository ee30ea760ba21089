"""``laketrace tail --follow``: print records as they are appended to a spool directory."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from ._format import human_from_lake
from ._levels import parse_level
from ._spool import list_spool


def follow(
    log_dir: str,
    *,
    logger: str | None = None,
    level: str | None = None,
    color: bool | None = None,
    poll: float = 0.5,
    stop_after: float | None = None,
    out: Any = None,
) -> None:
    """Print new complete lines of the active spool files until interrupted."""
    stream = out or sys.stdout
    if color is None:
        color = bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
    min_no = parse_level(level).no if level else 0
    offsets: dict[str, int] = {}
    for path, name in list_spool(log_dir, logger=logger):
        if not name.sealed:
            offsets[path] = os.path.getsize(path)
    start = time.monotonic()
    while stop_after is None or time.monotonic() - start < stop_after:
        for path, name in list_spool(log_dir, logger=logger):
            if name.sealed:
                continue
            pos = offsets.get(path, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1
            for raw in chunk[:end].splitlines():
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if (rec.get("level_no") or 0) >= min_no:
                    stream.write(human_from_lake(rec, color=color) + "\n")
            offsets[path] = pos + end
        stream.flush()
        time.sleep(poll)
