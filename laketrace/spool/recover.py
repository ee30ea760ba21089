"""`recover(log_dir)`: seal spool files left active by dead processes, finish compressions."""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass, field

from .names import ACTIVE_SUFFIX, COMPRESSED_SUFFIXES, INTERNAL_DIR, SEALED_SUFFIX, list_spool
from .read import reserved_tail

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_TMP_MIN_AGE = 60.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@dataclass
class RecoverResult:
    """What `recover` did."""

    sealed: list[str] = field(default_factory=list)
    removed_duplicates: list[str] = field(default_factory=list)
    removed_temp: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _seal_if_abandoned(path: str, pid: int) -> str | None:
    """Seal ``path`` if no live process holds it; returns the sealed path or None."""
    sealed = path[: -len(ACTIVE_SUFFIX)] + SEALED_SUFFIX
    if fcntl is None:
        if _pid_alive(pid):
            return None
        return _rename(path, sealed)
    try:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW | _NONBLOCK)
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        except OSError:
            return None
    except (FileNotFoundError, OSError):
        return None  # gone (sealed by its owner) or not a file we may open
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live writer holds it
        if _posix_locked(fd):
            return None  # a live JVM writer (Spark's log appender) holds it
        _drop_reserved(fd)
        return _rename(path, sealed)
    finally:
        os.close(fd)


def _drop_reserved(fd: int) -> None:
    """Truncate a dead memory-mapped writer's file before its trailing NULs (the reserved
    space; its used length).

    What stays ends with its last complete line, or with the torn record the kill cut short,
    which the flush quarantines as for a torn ``write()``. A NUL before the end of the data
    (a zeroed page or a damaged byte) is kept: the flush quarantines that line and ships
    the records after it, which cutting at the first NUL would silently drop.
    """
    try:
        at = reserved_tail(fd)
        if at is not None:
            os.ftruncate(fd, at)
    except OSError:  # read-only to us: readers still stop at the first NUL
        pass


def _posix_locked(fd: int) -> bool:
    """True when another process holds a POSIX record lock on the file (Java's
    ``FileChannel.lock``, which the JVM appender's spool files hold; flock cannot see it)."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a read lock: conflicts with a write lock
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    # nobody holds one; ours goes with the close
    return False


def _rename(path: str, sealed: str) -> str | None:
    """Seal ``path``; None if it moved meanwhile (its owner sealed or compressed it)."""
    try:
        os.rename(path, sealed)
    except FileNotFoundError:
        return None
    return sealed


def recover(log_dir: str) -> RecoverResult:
    """Make ``log_dir`` consistent after crashes; safe to run while loggers are writing.

    * active files whose writer died (``kill -9``, OOM, node loss) are sealed, so the
      flush step ships their complete lines (a torn last line is quarantined);
    * a sealed file that also exists compressed (a crash between the compressed file's
      rename and the original's removal) keeps only the complete compressed copy;
    * stale temporary files of interrupted compressions are removed.

    Files that move or vanish while it works (a live logger sealing, compressing or
    deleting them) are expected and skipped, never an error.

    The flush step runs this first. Returns what it did.

    >>> from laketrace import recover
    >>> recover("/tmp/lt-doc").sealed  # doctest: +SKIP
    []
    """
    result = RecoverResult()
    if not os.path.isdir(log_dir):
        return result
    files = list_spool(log_dir)
    names = {os.path.basename(p) for p, _ in files}
    for path, name in files:
        if name.sealed:
            if name.compression is None and any(
                os.path.basename(path) + ext in names for ext in COMPRESSED_SUFFIXES
            ):
                try:
                    os.unlink(path)
                    result.removed_duplicates.append(path)
                except FileNotFoundError:
                    pass
            continue
        if name.compression is not None:
            # "<name>.jsonl.gz" without ".sealed": no LakeTrace writer makes it (only sealed
            # files are compressed); cutting its NULs or renaming it would destroy the data
            continue
        sealed = _seal_if_abandoned(path, name.pid)
        if sealed is None:
            result.live.append(path)
        else:
            result.sealed.append(sealed)
    tmp_dir = os.path.join(log_dir, INTERNAL_DIR, "tmp")
    try:
        temps = os.listdir(tmp_dir)
    except OSError:  # none yet, or removed meanwhile
        temps = []
    now = time.time()
    for fn in temps:
        p = os.path.join(tmp_dir, fn)
        try:
            if fn.endswith(".tmp") and now - os.path.getmtime(p) > _TMP_MIN_AGE:
                os.unlink(p)
                result.removed_temp.append(p)
        except OSError:
            pass
    return result
