"""The byte scan of a flush's first files, run on a thread while the Spark writer reads the
table (Spark writer).

Before a Spark flush prepares its first batch it creates or checks the table, reads its id
and its recent history: py4j calls during which Python only waits for the JVM (without the
GIL). `ScanAhead` byte-scans (`laketrace.flush.scan`) the plain spool files not yet shipped
meanwhile, and stops when the batch asks for its first result; the files it did not reach
are scanned the ordinary way.

A result is only a cache: it is used for a file only if the file the batch holds is the
very file scanned (same device, inode, size and modification time before and after the
scan, `laketrace.flush.prefetch.file_key`); sealed spool files are never changed in place.
"""

from __future__ import annotations

import threading

from .prefetch import FileKey, file_key, scanned_result
from .scan import suspect


class ScanAhead:
    """Scans ``paths`` in order on a daemon thread until the first `scanned` call."""

    def __init__(self, paths: list[str], checks: frozenset[str]) -> None:
        self._checks = checks
        self._results: dict[FileKey, str | None] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(paths,), name="laketrace-scan-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, paths: list[str]) -> None:
        for path in paths:
            if self._stop.is_set():
                return
            before = file_key(path)
            if before is None:
                continue
            hit = suspect(path, self._checks)
            if file_key(path) == before:
                self._results[before] = hit

    def stop(self) -> None:
        """Let the file being scanned finish and scan no more."""
        self._stop.set()
        self._thread.join()

    def scanned(self, path: str) -> tuple[bool, str | None]:
        """``(True, result)`` if ``path`` is a file scanned ahead, else ``(False, None)``."""
        self.stop()
        return scanned_result(self._results, path)
