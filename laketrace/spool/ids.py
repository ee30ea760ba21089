"""Identity: record ids unique across processes and runs, and the id of a spool directory."""

from __future__ import annotations

import itertools
import os
import re
import uuid

from ._fs import make_private_dirs, open_private
from .names import INTERNAL_DIR

_ID = re.compile("[0-9a-f]{32}")


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
        # the ids as an iterator: ``next(ids.ids)`` formats in C, no bytecode per record
        self.ids = map(f"{self.prefix}{{:x}}".format, self.counter)
        # the same ids as the spool line spells them: ``,"record_id":"<id>`` (no closing
        # quote), for the generated spool methods (`laketrace.log.fastcall`)
        self.line_ids = map(f',"record_id":"{self.prefix}%x'.encode().__mod__, self.counter)
        self.pid = os.getpid()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


#: the process-wide source (the logger resets it in a forked child)
record_ids = RecordIds()


def _read_id(path: str) -> str | None:
    try:
        with open(path) as fh:
            value = fh.read().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return value if _ID.fullmatch(value) else None


def spool_id(log_dir: str) -> str:
    """A random id of this spool directory, created once (names its Delta txnAppId).

    A missing or unreadable id is replaced by a new one: the flush step then finds what
    the old id shipped from the table's commit metadata, so nothing ships twice.
    """
    internal = os.path.join(log_dir, INTERNAL_DIR)
    make_private_dirs(internal)
    path = os.path.join(internal, "spool_id")
    value = _read_id(path)
    if value:
        return value
    value = uuid.uuid4().hex
    tmp = path + f".{os.getpid()}.tmp"
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        if os.path.lexists(path):
            os.replace(tmp, path)  # a damaged id: replace it
        else:
            os.link(tmp, path)  # first writer wins; a racing process reads the winner's id
    except FileExistsError:
        pass
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return _read_id(path) or value
