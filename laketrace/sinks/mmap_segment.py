"""Memory-mapped spool segments: records are copied into reserved, mapped file space.

A spool file written this way is reserved ahead with ``posix_fallocate`` in segments and
mapped ``MAP_SHARED``; each record is one copy into the mapping at the end of the used
length (under the sink's lock), with no system call. A page written before a ``kill -9``
is in the page cache and reaches the file, so a dead writer loses at most the record being
copied, as with one ``write()`` per record. Because the space is reserved before it is
mapped, a full disk is an ``ENOSPC`` from the reservation (the sink then falls back to
``write()``), never a ``SIGBUS`` on a page write.

The reserved tail of an active file reads as NUL bytes: readers stop at the first NUL
(`laketrace.spool.read.used_length`), and sealing truncates the file to its used length.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os

#: the environment variable that forces the ``write()`` path (``write``) for spool files
WRITER_ENV = "LAKETRACE_SPOOL_WRITER"
#: bytes reserved (and mapped) at a time; a size rotation below this reserves less
SEGMENT_BYTES = 1 << 20
#: errors of a reservation that mean "not supported here" (file system, platform), not "full"
UNSUPPORTED = frozenset(
    e for e in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF, errno.ENODEV) if e
)

_PAGE = mmap.ALLOCATIONGRANULARITY
_log = logging.getLogger("laketrace.spool")
_told: set[str] = set()


def _fallocate(fd: int, offset: int, length: int) -> None:
    # looked up per reservation (once per segment), not at import: a platform or test
    # without ``os.posix_fallocate`` is seen as it is now
    reserve = getattr(os, "posix_fallocate", None)
    if reserve is None:
        raise OSError(errno.ENOSYS, "os.posix_fallocate is not available")
    reserve(fd, offset, length)


def mmap_unavailable() -> str | None:
    """Why spool files are written with ``write()`` instead of a mapping (None: mapped).

    The choice is logged once per process at DEBUG on the ``laketrace.spool`` logger.
    """
    forced = os.environ.get(WRITER_ENV, "").strip().lower()
    if forced not in ("", "mmap", "write"):
        reason: str | None = (
            f"{WRITER_ENV}={forced!r} is not a writer (accepted: 'mmap', 'write'); using write()"
        )
    elif forced == "write":
        reason = f"{WRITER_ENV}=write forces the write() path"
    elif getattr(os, "posix_fallocate", None) is None:
        reason = "os.posix_fallocate is not available on this platform (e.g. macOS)"
    else:
        reason = None
    tell(reason or "spool files are written through posix_fallocate'd MAP_SHARED segments")
    return reason


def tell(text: str) -> None:
    """Log ``text`` at DEBUG once per process."""
    if text not in _told:
        _told.add(text)
        _log.debug("LakeTrace: %s", text)


def segment_bytes(size_limit: int) -> int:
    """The reservation step for a sink rotating at ``size_limit`` bytes (0: no size limit)."""
    if not size_limit:
        return SEGMENT_BYTES
    return min(SEGMENT_BYTES, -(-size_limit // _PAGE) * _PAGE)


class Segment:
    """The reserved, mapped tail of one spool file; the owner holds its lock around calls.

    ``cap`` is the reserved file length; ``view`` maps ``[base, cap)``: a line is copied to
    ``view[used - base:]`` (by offset; `reserve` also positions the view at the used length).
    """

    __slots__ = ("base", "cap", "fd", "step", "view")

    def __init__(self, fd: int, step: int) -> None:
        self.fd = fd
        self.step = step
        self.cap = 0
        self.base = 0
        self.view: mmap.mmap | None = None

    def reserve(self, used: int, need: int) -> mmap.mmap:
        """Make ``[used, used + need)`` reserved and mapped; returns the mapping positioned at
        ``used``. Raises OSError (e.g. ``ENOSPC``) when the space cannot be reserved."""
        end = used + need
        if end > self.cap:
            cap = -(-end // self.step) * self.step
            _fallocate(self.fd, self.cap, cap - self.cap)
            self.cap = cap
        view = self.view
        if view is None or end > self.base + len(view):
            self.unmap()
            base = used - used % _PAGE
            view = mmap.mmap(
                self.fd, self.cap - base, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                offset=base,
            )  # fmt: skip
            self.view, self.base = view, base
        view.seek(used - self.base)
        return view

    def unmap(self) -> None:
        """Drop the mapping (the pages stay in the page cache and reach the file)."""
        view, self.view = self.view, None
        if view is not None:
            view.close()

    def finish(self, used: int) -> None:
        """Unmap and give back the reserved space beyond ``used`` (before sealing)."""
        self.unmap()
        # also when nothing was reserved by us: a posix_fallocate that failed part-way with
        # ENOSPC may still have grown the file, and records must not land after NULs
        if self.cap > used or os.fstat(self.fd).st_size != used:
            os.ftruncate(self.fd, used)
        self.cap = used
