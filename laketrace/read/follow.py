"""``laketrace tail --follow``: print records as they are appended to a spool directory."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from ..record.format import human_from_lake
from ..record.levels import parse_level
from ..spool.names import list_spool
from ..spool.read import used_length


class Follower:
    """Remembers how far each active spool file was read; `poll` prints what is new."""

    def __init__(
        self,
        log_dir: str,
        *,
        logger: str | None = None,
        level: str | None = None,
        color: bool = False,
        out: Any = None,
    ) -> None:
        self.log_dir = log_dir
        self.logger = logger
        self.min_no = parse_level(level).no if level else 0
        self.color = color
        self.out = out or sys.stdout
        self.offsets: dict[str, int] = {}
        for path, name in list_spool(log_dir, logger=logger):
            if not name.sealed:
                self.offsets[path] = _used(path)

    def poll(self) -> int:
        """Print complete records appended since the last poll; returns how many."""
        printed = 0
        for path, name in list_spool(self.log_dir, logger=self.logger):
            if name.sealed and path not in self.offsets:
                continue
            pos = self.offsets.get(path, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read()
            except OSError:
                continue
            nul = chunk.find(b"\0")  # the reserved tail of a memory-mapped active file
            end = (chunk.rfind(b"\n", 0, nul) if nul >= 0 else chunk.rfind(b"\n")) + 1
            for raw in chunk[:end].splitlines():
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if (rec.get("level_no") or 0) >= self.min_no:
                    self.out.write(human_from_lake(rec, color=self.color) + "\n")
                    printed += 1
            self.offsets[path] = pos + end
        self.out.flush()
        return printed


def _used(path: str) -> int:
    """The length of the records in ``path`` (its reserved NUL tail left out)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        at = used_length(fd)
        return os.fstat(fd).st_size if at is None else at
    finally:
        os.close(fd)


def follow(
    log_dir: str,
    *,
    logger: str | None = None,
    level: str | None = None,
    color: bool | None = None,
    poll: float = 0.5,
) -> None:
    """Print new complete lines of the active spool files until interrupted."""
    out = sys.stdout
    if color is None:
        color = bool(getattr(out, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
    follower = Follower(log_dir, logger=logger, level=level, color=color, out=out)
    while True:
        follower.poll()
        time.sleep(poll)
