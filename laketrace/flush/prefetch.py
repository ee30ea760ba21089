"""Reading a batch's spool files ahead (delta-rs).

DuckDB's parse is the largest cost of a flush and the delta-rs writer encodes Parquet on
about one core. So the first batch's plain sealed files are read as soon as the flush
has planned it, and each next batch's while the current one is written (`Prefetch.want`,
`Prefetch.start`), on a thread with its own DuckDB connection. DuckDB parses each file
as soon as that thread's byte scan (`laketrace.flush.scan`) has passed it, while the
thread scans the rest; a file the scan flags is never read by DuckDB.

A prefetched parse is only a cache: the batch still holds, scans and decompresses its
files as always, and uses the parsed rows of a file only if the file it holds is the
very file that was read (same device, inode, size and modification time before and after
the read; sealed spool files are never changed in place). Anything else (a file that was
compressed, moved, split for a suspect line, or a parse that failed) is read again the
ordinary way.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import TYPE_CHECKING, Any

from .duck_read import strings
from .scan import suspect

if TYPE_CHECKING:
    import pyarrow as pa

    from .duck_read import DuckReader

FileKey = tuple[int, int, int, int]


def file_key(path: str) -> FileKey | None:
    """What identifies one version of a file (None if it cannot be stat'ed)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def scanned_result(results: dict[FileKey, str | None], path: str) -> tuple[bool, str | None]:
    """``(True, result)`` if ``path`` is the very file a scan recorded in ``results`` (same
    `file_key`), else ``(False, None)``."""
    key = file_key(path)
    if key is None or key not in results:
        return False, None
    return True, results[key]


class Prefetch:
    """At most one background parse of announced files; taken by the next batch."""

    def __init__(self, reader: DuckReader, checks: frozenset[str]) -> None:
        self._reader = reader
        self._checks = checks
        self._scans: dict[FileKey, str | None] = {}
        self._pa = reader.pa
        self._con: Any = None  # its own connection: DuckDB connections are per thread
        self._wanted: list[str] = []
        self._thread: threading.Thread | None = None
        self._keys: dict[str, FileKey] = {}
        self._table: pa.Table | None = None

    def want(self, paths: list[str]) -> None:
        """Remember the next batch's plain spool files (read when `start` is called)."""
        self._wanted = [p for p in paths if p.endswith(".jsonl")]

    def start(self) -> None:
        """Parse the wanted files on a thread (no-op if nothing is wanted)."""
        self.wait()
        paths, self._wanted = self._wanted, []
        self._keys, self._table, self._scans = {}, None, {}
        if paths:
            self._thread = threading.Thread(
                target=self._run, args=(paths,), name="laketrace-prefetch", daemon=True
            )
            self._thread.start()

    def _run(self, paths: list[str]) -> None:
        before = {p: file_key(p) for p in paths}
        ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        parsed: list[tuple[list[str], pa.Table]] = []
        # DuckDB parses the files the scan has passed while this thread scans the rest
        # (the scan holds the GIL, the parse does not). A file the scan flags never
        # reaches DuckDB: a deeply nested line costs it gigabytes
        parse = threading.Thread(
            target=self._parse, args=(ready, parsed), name="laketrace-prefetch-parse", daemon=True
        )
        parse.start()
        scans: dict[str, str | None] = {}
        try:
            for p in paths:
                scans[p] = suspect(p, self._checks)
                if scans[p] is None:
                    ready.put(p)
        finally:
            ready.put(None)
            parse.join()
        keys = {p: k for p, k in before.items() if k is not None and file_key(p) == k}
        self._scans = {k: scans[p] for p, k in keys.items()}
        if parsed:  # only files in a read that completed are covered
            read = {p for files, _ in parsed for p in files}
            tables = [t for _, t in parsed]
            table = tables[0] if len(tables) == 1 else self._pa.concat_tables(tables)
            self._keys, self._table = {p: k for p, k in keys.items() if p in read}, table

    def _parse(
        self, ready: queue.SimpleQueue[str | None], out: list[tuple[list[str], pa.Table]]
    ) -> None:
        """Parse the files put in ``ready`` (all that are there, in one read each time)
        until None; each completed read goes to ``out`` with its files."""
        done = False
        while not done:
            paths = [ready.get()]
            while not ready.empty():
                paths.append(ready.get())
            done = None in paths
            todo = [p for p in paths if p is not None]
            if not todo:
                continue
            try:
                if self._con is None:
                    self._con = self._reader.new_connection()
                out.append((todo, self._reader.select(todo, self._con)))
            except Exception:  # a failure: the batch reads these files the ordinary way
                pass

    def scanned(self, path: str) -> tuple[bool, str | None]:
        """``(True, result)`` if ``path`` is a file the read-ahead scanned, else (False, None)."""
        self.wait()
        return scanned_result(self._scans, path)

    def wait(self) -> None:
        """Let a running parse finish (before the flush returns or another starts)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def take(self, paths: list[str]) -> tuple[pa.Table | None, set[str]]:
        """The prefetched rows of those ``paths`` that are the files read, with ``_file``
        naming ``paths``, and which paths they cover; the prefetch is used up."""
        self.wait()
        keys, table = self._keys, self._table
        self._keys, self._table = {}, None
        if table is None:
            return None, set()
        by_key = {k: p for p, k in keys.items()}
        renamed: dict[str, str] = {}
        for p in paths:
            source = by_key.get(file_key(p))  # type: ignore[arg-type]
            if source is not None and source not in renamed:
                renamed[source] = p
        if not renamed:
            return None, set()
        import pyarrow.compute as pc

        pa = self._pa
        old = strings(list(renamed), pa)  # not pa.array: see `duck_read.strings`
        at = pc.index_in(table.column("_file"), value_set=old)
        if at.null_count:  # rows of files not taken (copying the table is costly)
            table = table.filter(pc.is_valid(at))
            at = pc.index_in(table.column("_file"), value_set=old)
        # ``_file`` as a dictionary of the new names: no copy of a path per row
        names = strings(list(renamed.values()), pa)
        files = pa.chunked_array(
            [pa.DictionaryArray.from_arrays(c, names) for c in at.chunks],
            pa.dictionary(pa.int32(), pa.string()),
        )
        table = table.set_column(table.schema.get_field_index("_file"), "_file", files)
        return table, set(renamed.values())
