"""A file-backed sink: append-only writes, rotation, sealing, and write-error survival.

Spool files (``owner_lock``) are written through memory-mapped segments where the platform
allows (`mmap_segment`): each line is one copy into reserved, mapped file space at the
used length, under the lock; sealing truncates the file to its used length. Elsewhere,
and when a reservation fails, each line goes out with a single ``os.write`` on an
``O_APPEND`` descriptor. Either way lines from threads never interleave and a ``kill -9``
leaves at most the line being written incomplete. Sealing renames the active file.
Spool files are created locked and private under a temp name (`spool._fs`). With
``catch=True`` every write path (write, the slow path, write_many, seal) contains every
exception: the record is counted as lost, reported once, and logging resumes.
"""

from __future__ import annotations

import errno
import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..spool._fs import create_spool_file
from .mmap_segment import UNSUPPORTED, Segment, mmap_unavailable, segment_bytes, tell
from .options import HandlerOptions
from .rotation import FileInfo

#: names tried for a new spool file when something (e.g. a planted symlink) holds the name
_NAME_ATTEMPTS = 16


class Namer(Protocol):
    """Chooses active and sealed file names for a `FileSink`."""

    def active_path(self, opened_at: float) -> str: ...

    def sealed_path(self, active: str, opened_at: float) -> str: ...


class FileSink:
    """Writes bytes lines to a rotating file; thread-safe; survives write errors."""

    def __init__(
        self,
        namer: Namer,
        opts: HandlerOptions,
        *,
        label: str,
        on_seal: Callable[[str], None] | None = None,
        report: Callable[[str], None] | None = None,
        owner_lock: bool = False,
    ) -> None:
        self.namer = namer
        # spool files hold an advisory flock while active, so recover() can tell a file
        # of a live process from one left behind by a dead one; they are created locked
        # under a temp name and never opened through a symlink (`spool._fs`)
        self.owner_lock = owner_lock
        self.opts = opts
        self.label = label
        self.on_seal = on_seal
        self.report = report or _stderr
        self.lock = threading.Lock()
        self.fd = -1
        self.path: str | None = None
        self.size = 0
        self.records = 0
        self.opened_at = 0.0
        self.next_at = math.inf
        rot = opts.rotation
        self._size_limit = rot.size if rot is not None and rot.size else 0
        self._rot_callables = rot.callables if rot is not None else ()
        self._rotation = rot
        self._lost = 0
        self._error_reported = False
        self._rotation_error_reported = False
        self._broken_tail = False
        # True while the next write must take the careful path (errors, torn tail, callables)
        self._slow = bool(self._rot_callables)
        # the mapped segment of the active file, and the fast path's view of it: `_map` is
        # set only while the next line may simply be copied, up to `_room` bytes of file
        self._mmap = owner_lock and mmap_unavailable() is None
        self._step = segment_bytes(self._size_limit)
        self._seg: Segment | None = None
        self._map: Any = None
        self._room = 0
        #: the file offset of `_map`'s first byte: lines are copied by offset, never through
        #: the mapping's own position, which an interrupt between the copy and the size
        #: update would set apart from `size` (every later line of the file then failed)
        self._base = 0

    def _open(self, ts: float) -> None:
        if self.owner_lock:
            fd, path = self._create_spool_file(ts)
        else:
            path = self.namer.active_path(ts)
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, self.opts.file_mode
            )
            try:
                os.fchmod(fd, self.opts.file_mode)  # umask must not widen or narrow it
            except OSError:
                pass
        self.fd = fd
        self.path = path
        self.size = os.fstat(fd).st_size
        self._seg = Segment(fd, self._step) if self._mmap and not self.size else None
        self._broken_tail = self.size > 0 and not _ends_with_newline(fd, self.size)
        self.records = 0
        self.opened_at = ts
        self.next_at = self._rotation.next_at(ts) if self._rotation is not None else math.inf

    def _create_spool_file(self, ts: float) -> tuple[int, str]:
        # locked before it is visible (recover never seals it), never through a symlink; a
        # name somebody planted something at is skipped for the next sequence number
        for _ in range(_NAME_ATTEMPTS - 1):
            path = self.namer.active_path(ts)
            try:
                return create_spool_file(path, self.opts.file_mode, lock=True), path
            except FileExistsError:
                continue
        path = self.namer.active_path(ts)
        return create_spool_file(path, self.opts.file_mode, lock=True), path

    def write(self, data: bytes, ts: float, rec: Any = None) -> None:
        """Append one complete line (``data`` ends with ``\\n``)."""
        with self.lock:
            m = self._map
            if m is not None:
                size = self.size
                end = size + len(data)
                if end <= self._room and ts < self.next_at:
                    base = self._base
                    m[size - base : end - base] = data
                    self.size = end
                    self.records += 1
                else:
                    self._write_slow(data, ts, rec)
                return
            if (
                self.fd < 0
                or ts >= self.next_at
                or self._slow
                or self._seg is not None  # a mapped file without an armed view: never write()
                or (self._size_limit and self.size + len(data) > self._size_limit)
            ):
                self._write_slow(data, ts, rec)
                return
            try:
                n = os.write(self.fd, data)
            except Exception as exc:
                self._failed(exc)
                return
            self.size += n
            self.records += 1
            if n != len(data):
                self._write_rest(data, n)

    def _write_rest(self, data: bytes, n: int) -> None:
        try:
            self._write_all(data[n:], count=False)
        except Exception as exc:
            self._failed(exc)

    def _write_slow(self, data: bytes, ts: float, rec: Any) -> None:
        try:
            if self.fd < 0:
                self._open(ts)
            elif (
                (self._size_limit and self.size + len(data) > self._size_limit and self.size)
                or ts >= self.next_at
                or (self._rot_callables and self._custom_due(rec))
            ):
                self._seal_locked()
                self._open(ts)
            if self._broken_tail:
                data = b"\n" + data
            self._put(data)
        except Exception as exc:  # every write path contains every error (catch=True)
            self._failed(exc)
            return
        if self._lost:
            self.report(
                f"LakeTrace: {self.label}: writing works again after {self._lost} lost record(s)."
            )
            self._lost = 0
            self._error_reported = False
        self._slow = bool(self._rot_callables or self._broken_tail)
        self._arm()

    def _arm(self) -> None:
        """Let the fast path copy into the mapping while nothing needs the careful path."""
        seg = self._seg
        if seg is None or seg.view is None or self._slow:
            self._map = None
            return
        self._map, self._base = seg.view, seg.base
        limit = self._size_limit
        self._room = min(seg.cap, limit) if limit else seg.cap

    def _put(self, data: bytes, *, count: bool = True) -> None:
        """Append ``data`` at the used length: copied into the mapping, else written."""
        seg = self._seg
        if seg is not None:
            # reserve() may unmap the view `_map` holds: unset it first, so an interrupt
            # before `_arm` leaves the fast path off (a closed view failed every later line)
            self._map = None
            try:
                view = seg.reserve(self.size, len(data))
            except OSError as exc:
                self._fall_back(exc)
            else:
                at = self.size - seg.base
                view[at : at + len(data)] = data  # by offset, as in `write`
                self.size += len(data)
                if count:
                    self.records += 1
                self._arm()  # the view may have been remapped
                return
        self._write_all(data, count=count)

    def _fall_back(self, exc: OSError) -> None:
        """A reservation failed: this file continues with ``write()`` after its used length."""
        seg, self._seg, self._map = self._seg, None, None
        if exc.errno in UNSUPPORTED:  # the file system cannot reserve: never try again here
            self._mmap = False
            tell(f"{self.label}: posix_fallocate is not supported here ({_describe(exc)}); "
                 "spool files are written with write()")  # fmt: skip
        else:
            self.report(
                f"LakeTrace: {self.label}: cannot reserve space in {self.path} "
                f"({_describe(exc)}); this file continues with write() (lost records, if "
                "any, are reported)."
            )
        try:
            seg.finish(self.size)  # type: ignore[union-attr]
        except OSError:
            # write() would land after the reserved NULs: leave the file to recover()
            self._close_fd()
            self.path = None
            raise exc from None

    def write_many(self, items: list[tuple[bytes, float, Any]]) -> None:
        """Append many lines with as few system calls as rotation allows (enqueue mode)."""
        with self.lock:
            try:
                self._write_many_locked(items)
            except Exception as exc:  # the steps contain their own errors; this is a backstop
                self._failed(exc, 0)

    def _write_many_locked(self, items: list[tuple[bytes, float, Any]]) -> None:
        chunk: list[bytes] = []
        size = 0
        for data, ts, rec in items:
            due = (
                self.fd < 0
                or self._slow
                or ts >= self.next_at
                or (self._size_limit and self.size + size + len(data) > self._size_limit)
            )
            if due:
                if chunk:
                    self._write_chunk(chunk)
                    chunk, size = [], 0
                self._write_slow(data, ts, rec)
                continue
            chunk.append(data)
            size += len(data)
        if chunk:
            self._write_chunk(chunk)

    def _write_chunk(self, chunk: list[bytes]) -> None:
        try:
            self._put(b"".join(chunk))
        except Exception as exc:
            self._failed(exc, len(chunk))
            return
        self.records += len(chunk) - 1

    def _custom_due(self, rec: Any) -> bool:
        info = FileInfo(self.path or "", self.size, self.opened_at, self.records)
        due = False
        for c in self._rot_callables:
            try:
                due = bool(c(rec, info)) or due
            except Exception as exc:  # a broken rotation callable never costs the record
                if not self._rotation_error_reported:
                    self._rotation_error_reported = True
                    self.report(
                        f"LakeTrace: {self.label}: the rotation callable {c!r} raised {exc!r}; "
                        "the record was written without rotating (further errors of it are "
                        "not reported)."
                    )
        return due

    def _write_all(self, data: bytes, *, count: bool = True) -> None:
        view = memoryview(data)
        written = 0
        total = len(data)
        try:
            while written < total:
                written += os.write(self.fd, view[written:])
        except Exception:
            if written or not count:
                # a fragment is on disk: the next line must start on a fresh line
                self._broken_tail = True
                self._slow = True
                self.size += written
            raise
        self._broken_tail = False
        self.size += total
        if count:
            self.records += 1

    def _failed(self, exc: Exception, count: int = 1) -> None:
        self._lost += count
        self._slow = True
        self._map = None
        if not self.opts.catch:
            raise exc
        if not self._error_reported:
            self._error_reported = True
            self.report(
                f"LakeTrace: {self.label}: cannot write {self.path or 'the spool'} "
                f"({_describe(exc)}); records are being lost until writing works again (the "
                "count is reported then). The application keeps running."
            )
        if getattr(exc, "errno", None) in (errno.EBADF, errno.ENOENT, errno.ESTALE):
            # the descriptor is unusable: seal what is there and start a new file later
            try:
                self._seal_locked()
            except Exception:
                self._close_fd()

    def _close_fd(self) -> None:
        seg, self._seg, self._map = self._seg, None, None
        if seg is not None:
            seg.unmap()  # an untruncated file is left to recover()
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def _seal_locked(self) -> str | None:
        if self.fd < 0 or self.path is None:
            return None
        path, opened = self.path, self.opened_at
        empty = self.size == 0
        self.path = None
        seg, self._seg, self._map = self._seg, None, None
        if seg is not None and empty:
            seg.unmap()
        elif seg is not None:
            try:
                seg.finish(self.size)  # a sealed file never holds reserved NULs
            except Exception as exc:
                self._close_fd()
                self.report(
                    f"LakeTrace: {self.label}: could not truncate {path} ({exc}); recover() will."
                )
                return None
        if empty:
            try:
                os.unlink(path)
            except OSError:
                pass
            self._close_fd()
            return None
        try:
            sealed = self.namer.sealed_path(path, opened)
            # renamed while the lock is held, so recover() cannot seal it at the same time
            os.rename(path, sealed)
        except Exception as exc:
            self._close_fd()
            self.report(f"LakeTrace: {self.label}: could not seal {path} ({exc}); recover() will.")
            return None
        self._close_fd()
        if self.on_seal is not None:
            try:
                self.on_seal(sealed)
            except Exception as exc:  # maintenance must never break logging
                self.report(f"LakeTrace: {self.label}: post-seal step failed: {exc!r}")
        return sealed

    def seal(self) -> str | None:
        """Close and seal the active file (no-op if none); returns the sealed path."""
        with self.lock:
            try:
                return self._seal_locked()
            except Exception as exc:  # closing never raises into the application
                self._close_fd()
                self.report(f"LakeTrace: {self.label}: could not seal the spool file: {exc!r}")
                return None

    def after_fork_child(self) -> None:
        """In a forked child: forget the parent's file (it is the parent's to seal)."""
        self.lock = threading.Lock()
        seg, self._seg, self._map = self._seg, None, None
        if seg is not None:
            seg.unmap()  # only this process's mapping: the file stays the parent's
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1
        self.path = None
        self.size = 0


def _ends_with_newline(fd: int, size: int) -> bool:
    try:
        return os.pread(fd, 1, size - 1) == b"\n"
    except OSError:
        return True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        reason = errno.errorcode.get(exc.errno or 0, "") if exc.errno else ""
        return f"{reason} {exc.strerror or exc}".strip()
    return repr(exc)


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except Exception:
        pass
