"""Private files and directories: what LakeTrace creates is 0700 (directories) and 0600
(files) whatever the umask, is never reached through a symlink, and a new spool file is
never visible under its name before its writer holds its lock.

``os.makedirs(mode=...)`` and ``os.open(mode=...)`` are narrowed by the umask but never
widened, and a file that already exists keeps its mode, so every helper here sets the mode
explicitly (``chmod``/``fchmod``) on what it creates.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DIR_MODE = 0o700
FILE_MODE = 0o600
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: the folder (inside ``log_dir``) where new spool files are prepared before they get their name
CREATING_DIR = os.path.join("_laketrace", "tmp")
#: the suffix of a spool file being prepared (``recover`` removes old ones: they hold no records)
CREATING_SUFFIX = ".creating.tmp"

#: test hook: called with a step name ("opened", "locked") and the temp path while a spool
#: file is being created, so a test can run `recover` inside the window
fault_hook: Callable[[str, str], None] | None = None


def make_private_dirs(path: str) -> None:
    """Create ``path`` and any missing parents, each one LakeTrace creates with mode 0700.

    Directories that already exist are left as they are (they are the user's).

    >>> make_private_dirs("/tmp/lt-doc/a/b")  # doctest: +SKIP
    """
    path = os.path.abspath(path)
    missing: list[str] = []
    cur = path
    while not os.path.isdir(cur):
        missing.append(cur)
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            if not os.path.isdir(d):
                raise
            continue  # created concurrently by someone else: theirs to set
        os.chmod(d, DIR_MODE)


def open_private(path: str, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a symlink at ``path`` and creates files with ``mode``.

    With ``O_CREAT`` the mode is set with ``fchmod`` too (the umask cannot widen or narrow
    it); an existing file of another owner keeps its mode.
    """
    fd = os.open(path, flags | NOFOLLOW | CLOEXEC, mode)
    if flags & os.O_CREAT:
        try:
            os.fchmod(fd, mode)
        except OSError:
            pass
    return fd


def open_private_file(path: str) -> BinaryIO:
    """``open(path, "wb")`` made private: created 0600, truncated, never through a symlink."""
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb")


def open_nofollow(path: str) -> BinaryIO:
    """``open(path, "rb")`` that refuses a symlink at ``path`` (``OSError`` ``ELOOP``)."""
    return os.fdopen(os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC), "rb")


def create_spool_file(path: str, mode: int, *, lock: bool, attempts: int = 3) -> int:
    """Create the new file ``path`` set up (mode, lock) before anything can see it there.

    The file is created under a temp name in ``<log_dir>/_laketrace/tmp/`` (hidden from
    `list_spool`, on the same file system), its mode set, its ``flock`` taken, and only then
    hard-linked to ``path``: a link never replaces what is at ``path`` (a planted file or
    symlink gives ``FileExistsError``) and never follows a symlink. So ``recover`` never
    sees a spool file whose writer does not hold its lock yet. Returns the descriptor
    (``O_APPEND``). The temp name never holds records: it is removed right after the link;
    one left behind by a crash is empty, or is a second name of the spool file.
    """
    log_dir, base = os.path.split(path)
    tmp_dir = os.path.join(log_dir, CREATING_DIR)
    tmp = os.path.join(tmp_dir, f".{base}{CREATING_SUFFIX}")
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND
    for _ in range(attempts):
        try:
            fd = open_private(tmp, flags, mode)
        except FileNotFoundError:
            make_private_dirs(tmp_dir)  # first file, or someone removed _laketrace/
            continue
        except FileExistsError:
            _unlink(tmp)  # a stale temp of a crashed process (empty): ours to replace
            continue
        try:
            _publish(fd, tmp, path, lock=lock)
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        _unlink(tmp)
        return fd
    raise OSError(errno.EAGAIN, f"could not create {path} (tried {attempts} times)")


def _publish(fd: int, tmp: str, path: str, *, lock: bool) -> None:
    if fault_hook is not None:
        fault_hook("opened", tmp)
    if lock and fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # nobody else can know the temp name: the lock is always free
    if fault_hook is not None:
        fault_hook("locked", tmp)
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # a file system without hard links: rename, after checking nothing is at ``path``
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", path) from None
        os.rename(tmp, path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
