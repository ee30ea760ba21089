"""Reading spool files back, whatever their compression (tail, follow, flush, tests).

Files are opened without following symlinks and only if they are regular files, so a
symlink, a directory or a FIFO planted under a spool name is never read through (a FIFO
would block the reader forever).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

#: what a damaged compressed file raises while it is read (besides OSError)
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def open_regular(path: str) -> IO[bytes]:
    """Open ``path`` for reading if it is a regular file (not through a symlink).

    Raises OSError naming what it is otherwise.
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"not a regular file ({_kind(mode)}): {path}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or special file"


class _Stream:
    """A decompressing reader that also closes the file it reads from."""

    def __init__(self, inner: Any, *owned: Any) -> None:
        self._inner = inner
        self._owned = owned

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(n)  # type: ignore[no-any-return]

    def readline(self, size: int = -1) -> bytes:
        return self._inner.readline(size)  # type: ignore[no-any-return]

    def read1(self, n: int = -1) -> bytes:
        return self._inner.read1(n)  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            for f in reversed(self._owned):
                f.close()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _zip_member(raw: IO[bytes]) -> _Stream:
    """The members of a zip archive, streamed one after another (see `_Members`)."""
    try:
        zf = zipfile.ZipFile(raw)
    except RuntimeError as exc:  # a zip version zipfile lacks (NotImplementedError)
        raise zipfile.BadZipFile(f"cannot read the archive: {exc}") from exc
    return _Stream(io.BufferedReader(_Members(zf), _ZIP_STEP), raw, zf)


#: bytes read from a zip member at a time: zipfile decompresses and CRC-checks by 4 KiB,
#: so the lines before a bad CRC's last step are still read, as from the member itself
_ZIP_STEP = 4096


class _Members(io.RawIOBase):
    """The file members of a zip archive read as one file, in archive order, each one's
    CRC checked at its end. LakeTrace writes one member; an archive with more (made by
    hand) loses none of them: a newline is put between two members when the first does
    not end with one, so their lines stay apart."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self._zf = zf
        # a directory entry holds nothing; data under a directory's name is read too
        self._todo = [m for m in zf.infolist() if not (m.is_dir() and not m.file_size)]
        self._member: Any = None
        self._last = b"\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while True:
            if self._member is None:
                if not self._todo:
                    return 0
                member = self._todo.pop(0)
                try:
                    self._member = self._zf.open(member)
                except RuntimeError as exc:  # encrypted, or a method zipfile lacks
                    raise zipfile.BadZipFile(
                        f"cannot read member {member.filename!r}: {exc}"
                    ) from exc
                if self._last != b"\n":
                    self._last = buf[0:1] = b"\n"
                    return 1
            data = self._member.read1(min(len(buf), _ZIP_STEP))
            if data:
                buf[: len(data)] = data
                self._last = data[-1:]
                return len(data)
            self._member.close()
            self._member = None

    def close(self) -> None:
        if self._member is not None:
            self._member.close()
        super().close()


def used_length(fd: int) -> int | None:
    """Where the first NUL byte of the open file ``fd`` is (None: it has none).

    A memory-mapped spool file (`laketrace.sinks.mmap_segment`) is reserved ahead: its
    unwritten tail reads as NULs, which a JSON line never contains (control characters are
    escaped), so the records of an active or abandoned file end at its first NUL.
    """
    size = os.fstat(fd).st_size
    if not size:
        return None
    # read, never mapped: a live writer may truncate the file meanwhile (sealing), and a
    # mapped page past the new end would kill this process with SIGBUS
    at, pos = -1, 0
    while pos < size:
        block = os.pread(fd, 1 << 20, pos)
        if not block:
            break
        hit = block.find(b"\0")
        if hit >= 0:
            at = pos + hit
            break
        pos += len(block)
    return None if at < 0 else at


def reserved_tail(fd: int) -> int | None:
    """Where the run of NUL bytes that ends the open file ``fd`` starts (None: it does not
    end with a NUL).

    Unlike `used_length` this skips NULs inside the data: in a dead memory-mapped writer's
    file only the trailing run is reserved space; a NUL before real bytes is damage (a
    zeroed page, a flipped byte), and the lines after it are records to ship.
    """
    end = os.fstat(fd).st_size
    size = end
    while end > 0:
        start = max(0, end - (1 << 20))
        block = os.pread(fd, end - start, start)
        if len(block) != end - start:  # shrank meanwhile: not ours to cut
            return None
        kept = block.rstrip(b"\0")
        if kept:
            end = start + len(kept)
            break
        end = start
    return None if end == size else end


def open_spool_file(path: str) -> IO[bytes]:
    """Open a spool file for reading, whatever its compression."""
    raw = open_regular(path)
    try:
        if path.endswith(".gz"):
            return _Stream(gzip.GzipFile(fileobj=raw, mode="rb"), raw)  # type: ignore[return-value]
        if path.endswith(".bz2"):
            return _Stream(bz2.BZ2File(raw, "rb"), raw)  # type: ignore[return-value]
        if path.endswith(".xz"):
            return _Stream(lzma.LZMAFile(raw, "rb"), raw)  # type: ignore[return-value]
        if path.endswith(".zip"):
            return _zip_member(raw)  # type: ignore[return-value]
    except BaseException:
        raw.close()
        raise
    return raw


def iter_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """``(line_number, raw_line)`` pairs of one spool file (1-based)."""
    with open_spool_file(path) as fh:
        yield from enumerate(fh, 1)


#: how much of an over-long line is read at a time while it is skipped
_SKIP = 4 << 20


def bounded_lines(fh: IO[bytes], limit: int, keep: int) -> Iterator[tuple[bytes, int]]:
    """``(line, size)`` for each line of ``fh``, never holding more than ``limit`` bytes.

    A line of up to ``limit`` bytes (its newline included) comes whole. A longer one is
    read past in pieces: ``line`` is then its first ``keep`` bytes and ``size`` (over
    ``limit``) its length, so a damaged file with gigabytes and no newline cannot take
    the reader's memory.
    """
    readline = fh.readline
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        size = len(raw)
        if size <= limit:
            yield raw, size
            continue
        done, head = raw.endswith(b"\n"), raw[:keep]
        del raw
        while not done:
            part = readline(_SKIP)
            size += len(part)
            done = not part or part.endswith(b"\n")
        yield head, size


def read_records(path: str) -> Iterator[dict[str, Any]]:
    """Parsed records of one spool file; unparseable lines (e.g. a torn tail) are skipped,
    and so is a file that is gone or is not a regular file (a symlink, a FIFO); a damaged
    compressed file yields what can be read."""
    try:
        fh = open_spool_file(path)
    except DAMAGE_ERRORS:
        return
    with fh:
        try:
            yield from _records(fh)
        except DAMAGE_ERRORS:
            return  # a damaged compressed file: what was readable has been yielded


def _records(fh: IO[bytes]) -> Iterator[dict[str, Any]]:
    for raw in fh:
        if not raw.endswith(b"\n"):
            break  # a line still being written, or the reserved NULs of an active file
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            yield obj
