"""A file-backed sink: append-only writes, rotation, sealing, and write-error survival.

Each line goes out with a single ``os.write`` on an ``O_APPEND`` descriptor, so lines
from threads never interleave and a ``kill -9`` leaves at most the line being written
incomplete. Sealing renames the active file; nothing here ever truncates or overwrites.
"""

from __future__ import annotations

import errno
import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .options import HandlerOptions
from .rotation import FileInfo

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


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
        # of a live process from one left behind by a dead one
        self.owner_lock = owner_lock and fcntl is not None
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
        self._broken_tail = False
        # True while the next write must take the careful path (errors, torn tail, callables)
        self._slow = bool(self._rot_callables)

    def _open(self, ts: float) -> None:
        path = self.namer.active_path(ts)
        self.fd = os.open(
            path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, self.opts.file_mode
        )
        try:
            os.fchmod(self.fd, self.opts.file_mode)  # umask must not widen or narrow it
        except OSError:
            pass
        if self.owner_lock:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # the name is unique to this process; the lock is only a liveness hint
        self.path = path
        self.size = os.fstat(self.fd).st_size
        self._broken_tail = self.size > 0 and not _ends_with_newline(self.fd, self.size)
        self.records = 0
        self.opened_at = ts
        self.next_at = self._rotation.next_at(ts) if self._rotation is not None else math.inf

    def write(self, data: bytes, ts: float, rec: Any = None) -> None:
        """Append one complete line (``data`` ends with ``\\n``)."""
        with self.lock:
            if (
                self.fd < 0
                or ts >= self.next_at
                or self._slow
                or (self._size_limit and self.size + len(data) > self._size_limit)
            ):
                self._write_slow(data, ts, rec)
                return
            try:
                n = os.write(self.fd, data)
            except OSError as exc:
                self._failed(exc)
                return
            self.size += n
            self.records += 1
            if n != len(data):
                self._write_rest(data, n)

    def _write_rest(self, data: bytes, n: int) -> None:
        try:
            self._write_all(data[n:], count=False)
        except OSError as exc:
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
            self._write_all(data)
        except OSError as exc:
            self._failed(exc)
            return
        if self._lost:
            self.report(
                f"LakeTrace: {self.label}: writing works again after {self._lost} lost record(s)."
            )
            self._lost = 0
            self._error_reported = False
        self._slow = bool(self._rot_callables or self._broken_tail)

    def write_many(self, items: list[tuple[bytes, float, Any]]) -> None:
        """Append many lines with as few system calls as rotation allows (enqueue mode)."""
        with self.lock:
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
            self._write_all(b"".join(chunk))
        except OSError as exc:
            self._failed(exc, len(chunk))
            return
        self.records += len(chunk) - 1

    def _custom_due(self, rec: Any) -> bool:
        info = FileInfo(self.path or "", self.size, self.opened_at, self.records)
        return any(c(rec, info) for c in self._rot_callables)

    def _write_all(self, data: bytes, *, count: bool = True) -> None:
        view = memoryview(data)
        written = 0
        total = len(data)
        try:
            while written < total:
                written += os.write(self.fd, view[written:])
        except OSError:
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

    def _failed(self, exc: OSError, count: int = 1) -> None:
        self._lost += count
        self._slow = True
        if not self.opts.catch:
            raise exc
        if not self._error_reported:
            self._error_reported = True
            reason = errno.errorcode.get(exc.errno or 0, "") if exc.errno else ""
            self.report(
                f"LakeTrace: {self.label}: cannot write {self.path or 'the spool'} "
                f"({reason} {exc.strerror or exc}); records are being lost until writing works "
                "again (the count is reported then). The application keeps running."
            )
        if exc.errno in (errno.EBADF, errno.ENOENT, errno.ESTALE):
            # the descriptor is unusable: seal what is there and start a new file later
            try:
                self._seal_locked()
            except OSError:
                self._close_fd()

    def _close_fd(self) -> None:
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
        self._close_fd()
        self.path = None
        if empty:
            try:
                os.unlink(path)
            except OSError:
                pass
            return None
        sealed = self.namer.sealed_path(path, opened)
        try:
            os.rename(path, sealed)
        except OSError as exc:
            self.report(f"LakeTrace: {self.label}: could not seal {path} ({exc}); recover() will.")
            return None
        if self.on_seal is not None:
            try:
                self.on_seal(sealed)
            except Exception as exc:  # maintenance must never break logging
                self.report(f"LakeTrace: {self.label}: post-seal step failed: {exc!r}")
        return sealed

    def seal(self) -> str | None:
        """Close and seal the active file (no-op if none); returns the sealed path."""
        with self.lock:
            return self._seal_locked()

    def after_fork_child(self) -> None:
        """In a forked child: forget the parent's file (it is the parent's to seal)."""
        self.lock = threading.Lock()
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


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except Exception:
        pass
