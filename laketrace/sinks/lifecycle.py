"""Sealed-file maintenance off the logging hot path: compression and retention.

Compression never loses the original: it writes a temp file, fsyncs it, renames it into
place, fsyncs the directory, and only then removes the original. Retention never deletes
the active file, and never deletes a sealed spool file that has not been flushed when the
logger has a flush target. A handler's ``close()`` waits (bounded by `CLOSE_WAIT`) until the
maintenance of the file it sealed is done, so a script that closes and then copies the
folder finds finished files.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import queue
import shutil
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..spool._fs import make_private_dirs, open_private
from ..spool.names import COMPRESSIONS
from .rotation import Retention

#: seconds ``close()`` waits for the compression and retention of the file it sealed
CLOSE_WAIT = 30.0

COMPRESSED_EXT = {m: "." + m for m in COMPRESSIONS}

#: test hook: called with a step name ("written", "renamed") during compression
fault_hook: Callable[[str, str], None] | None = None


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def compress_file(path: str, method: str, *, tmp_dir: str | None = None) -> str:
    """Compress ``path`` crash-safely with ``method``; returns the compressed path."""
    final = path + COMPRESSED_EXT[method]
    tmp_dir = tmp_dir or os.path.dirname(path)
    make_private_dirs(tmp_dir)
    tmp = os.path.join(tmp_dir, os.path.basename(final) + ".tmp")
    mode = os.lstat(path).st_mode & 0o777
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as raw:
        if method == "zip":
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.write(path, arcname=os.path.basename(path))
        else:
            dst: Any
            if method == "gz":
                dst = gzip.GzipFile(filename="", fileobj=raw, mode="wb")
            elif method == "bz2":
                dst = bz2.BZ2File(raw, mode="wb")
            else:
                dst = lzma.LZMAFile(raw, mode="wb")
            with open(path, "rb") as src, dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        raw.flush()
        os.fsync(raw.fileno())
    if fault_hook is not None:
        fault_hook("written", tmp)
    os.replace(tmp, final)
    _fsync_dir(os.path.dirname(final))
    if fault_hook is not None:
        fault_hook("renamed", final)
    os.unlink(path)
    return final


@dataclass(frozen=True)
class SealedFile:
    """A sealed file considered by retention."""

    path: str
    created: float
    shipped: bool = True


def retention_victims(
    files: list[SealedFile], policy: Retention, now: float
) -> tuple[list[str], list[str]]:
    """Which sealed files ``policy`` deletes, and which it would but may not (unflushed).

    ``files`` are oldest first. Returns ``(delete, held_back)``.
    """
    chosen: list[str] = []
    if policy.count is not None and len(files) > policy.count:
        chosen.extend(f.path for f in files[: len(files) - policy.count])
    if policy.max_age is not None:
        chosen.extend(f.path for f in files if now - f.created > policy.max_age)
    if policy.func is not None:
        picked = policy.func([f.path for f in files])
        chosen.extend(os.fspath(p) for p in (picked or ()))
    known = {f.path: f for f in files}
    delete: list[str] = []
    held: list[str] = []
    for path in dict.fromkeys(chosen):
        f = known.get(path)
        if f is None:
            continue  # a callable may only pick from the sealed files it was given
        (delete if f.shipped else held).append(path)
    return delete, held


class Maintenance:
    """One daemon thread per process running compression and retention jobs in order."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="laketrace-maintenance", daemon=True
                )
                self.thread.start()
        self.q.put(job)

    def _run(self) -> None:
        while True:
            job = self.q.get()
            if isinstance(job, threading.Event):
                job.set()
                continue
            try:
                job()
            except Exception as exc:  # maintenance must never break logging
                _report(f"LakeTrace: spool maintenance failed: {exc!r}")

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far has run; False on timeout."""
        if self.thread is None or not self.thread.is_alive():
            return True
        if threading.current_thread() is self.thread:
            return True  # a job (e.g. a compression callable that logs) cannot wait for itself
        done = threading.Event()
        self.q.put(done)
        return done.wait(timeout)

    def after_fork_child(self) -> None:
        # jobs queued in the parent are the parent's; the child starts empty
        self._reset()


maintenance = Maintenance()


def _report(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
    except Exception:
        pass


class FileLifecycle:
    """Runs compression then retention for one sink after each seal."""

    def __init__(
        self,
        *,
        label: str,
        compression: Any,
        retention: Retention | None,
        list_sealed: Callable[[], list[SealedFile]],
        clock: Callable[[], float] = time.time,
        tmp_dir: str | None = None,
    ) -> None:
        self.label = label
        self.compression = compression
        self.retention = retention
        self.list_sealed = list_sealed
        self.clock = clock
        self.tmp_dir = tmp_dir
        self._held_reported = False

    @property
    def active(self) -> bool:
        return self.compression is not None or self.retention is not None

    def on_seal(self, path: str) -> None:
        if self.active:
            maintenance.submit(lambda: self.run(path))

    def run(self, sealed: str) -> None:
        if self.compression is not None and os.path.exists(sealed):
            try:
                if callable(self.compression):
                    self.compression(sealed)
                else:
                    compress_file(sealed, self.compression, tmp_dir=self.tmp_dir)
            except FileNotFoundError:
                pass  # shipped, moved or removed meanwhile: nothing left to compress
        if self.retention is not None:
            self.apply_retention()

    def wait(self) -> None:
        """Wait (at most `CLOSE_WAIT` seconds) for the maintenance submitted so far."""
        if not self.active:
            return
        if not maintenance.drain(CLOSE_WAIT):
            _report(
                f"LakeTrace: {self.label}: compression/retention still running after "
                f"{CLOSE_WAIT:.0f}s; close() returns without waiting longer (an interrupted "
                "compression keeps the original file; recover() cleans up)."
            )

    def apply_retention(self) -> list[str]:
        assert self.retention is not None
        files = self.list_sealed()
        delete, held = retention_victims(files, self.retention, self.clock())
        for path in delete:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if held and not self._held_reported:
            self._held_reported = True
            _report(
                f"LakeTrace: {self.label}: retention is holding back {len(held)} sealed "
                "file(s) that have not been flushed to the Delta target yet; they are kept "
                "until a flush ships them (run flush_to_delta)."
            )
        return delete
