"""Identity: record ids unique across processes and runs, and the id of a spool directory."""

from __future__ import annotations

import itertools
import os
import uuid

from ._fs import make_private_dirs, open_private
from .names import INTERNAL_DIR


class RecordIds:
    """Per-process record-id source: a random prefix plus a counter (reset after fork).

    >>> ids = RecordIds()
    >>> ids.next() != ids.next()
    True
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16] + "-"
        self.counter = itertools.count(1)
        self.pid = os.getpid()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


#: the process-wide source (the logger resets it in a forked child)
record_ids = RecordIds()


def spool_id(log_dir: str) -> str:
    """A random id of this spool directory, created once (names its Delta txnAppId)."""
    internal = os.path.join(log_dir, INTERNAL_DIR)
    make_private_dirs(internal)
    path = os.path.join(internal, "spool_id")
    try:
        with open(path) as fh:
            value = fh.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = uuid.uuid4().hex
    tmp = path + f".{os.getpid()}.tmp"
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # first writer wins; a racing process reads the winner's id
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path) as fh:
        return fh.read().strip()
