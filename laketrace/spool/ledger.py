"""The ledger (``<log_dir>/_laketrace/manifest.jsonl``): a local cache of which sealed files
the flush step planned and committed to which Delta table. The flush step writes it;
retention reads it, so it lives with the spool rather than with the flush.

The target table is the source of truth (each commit records what it shipped); the ledger
only saves reading the table's history on every flush. Entries are keyed by the table's
Delta table id and carry a checksum: a line that does not parse or does not match its
checksum marks the ledger as damaged, and the flush step then rebuilds it from the table.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from ._fs import make_private_dirs
from .names import INTERNAL_DIR

_SUM = "sum"


def manifest_path(log_dir: str) -> str:
    """The append-only manifest of flush batches for ``log_dir``."""
    return os.path.join(log_dir, INTERNAL_DIR, "manifest.jsonl")


def _checksum(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != _SUM}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(text.encode()):08x}"


def encode_entry(entry: dict) -> bytes:
    """One ledger line: the entry with its checksum, as JSON."""
    entry = {**entry, _SUM: _checksum(entry)}
    return (json.dumps(entry, separators=(",", ":")) + "\n").encode()


def read_entries(path: str) -> tuple[list[dict], bool]:
    """``(entries, damaged)``: the parseable, checksum-valid entries of a ledger file.

    ``damaged`` is True when a line did not parse or did not match its checksum (a torn
    write, a bit flip, an edit). Lines written before checksums existed are accepted.
    """
    out: list[dict] = []
    damaged = False
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return out, False
    with fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                damaged = True
                continue
            if not isinstance(entry, dict) or (_SUM in entry and entry[_SUM] != _checksum(entry)):
                damaged = True
                continue
            out.append(entry)
    return out, damaged


def _stems(entry: dict) -> list[str]:
    files = entry.get("files")
    if not isinstance(files, list):
        return []
    out = []
    for f in files:
        stem = f.get("stem") if isinstance(f, dict) else f
        if isinstance(stem, str):
            out.append(stem)
    return out


def _key(entry: dict) -> tuple[Any, ...]:
    if "table_id" not in entry:  # written before tables were identified by id
        return ("target", entry.get("target"), entry.get("batch"))
    return ("app", entry.get("app_id"), entry.get("batch"))


def shipped_stems(log_dir: str) -> set[str]:
    """Stems of sealed files whose batch was committed to a Delta target (any target)."""
    entries, _ = read_entries(manifest_path(log_dir))
    shipped: set[str] = set()
    pending: dict[Any, list[str]] = {}
    for entry in entries:
        event = entry.get("event")
        if event == "planned":
            pending[_key(entry)] = _stems(entry)
        elif event in ("committed", "skipped-duplicate"):
            planned = pending.pop(_key(entry), [])
            shipped.update(_stems(entry) or planned)
    return shipped


@dataclass
class TableState:
    """What the ledger says about one target table."""

    table_id: str
    #: the Delta txn app id new batches use (None: the ledger knows nothing, rebuild)
    app_id: str | None = None
    #: the highest batch number used under ``app_id``
    last_batch: int = 0
    #: planned batches without a committed entry (any app id), oldest first
    pending: list[dict] = field(default_factory=list)
    shipped: set[str] = field(default_factory=set)
    #: stems a rebuild could not place: ship them idempotently
    uncertain: set[str] = field(default_factory=set)
    damaged: bool = False
    #: the newest table version the ledger has seen (commits after it are checked)
    table_version: int | None = None
    #: txns (app id, batch) the ledger knows, planned or committed
    known: set[tuple[Any, Any]] = field(default_factory=set)


class Manifest:
    """The ledger of flush batches for one spool directory.

    Each batch is written as ``planned`` (with its files) before anything reaches Delta
    and ``committed`` (again with its files) after; entries are fsynced. A ``planned``
    batch without ``committed`` is re-run with the same files and the same Delta txn
    (app id, version) by the next flush. A ``rebuilt`` entry starts a new txn app id
    after the ledger was rebuilt from the table.
    """

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.path = manifest_path(log_dir)

    def append(self, entry: dict) -> None:
        """Append one entry (with its checksum) and fsync it."""
        make_private_dirs(os.path.dirname(self.path))
        data = encode_entry(entry)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(self.path):
                data = b"\n" + data  # a torn entry from a crash stays on its own line
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> tuple[list[dict], bool]:
        """``(entries, damaged)`` of the whole ledger."""
        return read_entries(self.path)

    def pending_txns(self) -> set[tuple[Any, Any]]:
        """``(app_id, batch)`` of planned batches not committed yet, for any table."""
        open_: dict[Any, tuple[Any, Any]] = {}
        for e in self.entries()[0]:
            if e.get("event") == "planned":
                open_[_key(e)] = (e.get("app_id"), e.get("batch"))
            elif e.get("event") in ("committed", "skipped-duplicate"):
                open_.pop(_key(e), None)
        return set(open_.values())

    def has_pending(self) -> bool:
        """Whether any table has a planned batch that was not committed (or damage)."""
        return self.entries()[1] or bool(self.pending_txns())

    def state(self, table_id: str, legacy_key: str | None = None) -> TableState:
        """The ledger's view of the table ``table_id``.

        Entries written before tables were identified by id (keyed by ``legacy_key``, the
        hash of the path) count for the table too.
        """
        entries, damaged = self.entries()
        st = TableState(table_id, damaged=damaged)
        planned: dict[Any, dict] = {}
        for e in entries:
            tid = e.get("table_id")
            if tid != table_id and not (
                tid is None and legacy_key and e.get("target") == legacy_key
            ):
                continue
            event = e.get("event")
            if not _well_formed(e):
                st.damaged = True  # e.g. an edited line without a checksum
                continue
            if isinstance(e.get("table_version"), int):
                st.table_version = max(st.table_version or 0, e["table_version"])
            st.known.add((e.get("app_id"), e.get("batch")))
            if event == "rebuilt":
                st.app_id, st.last_batch, planned = e.get("app_id"), 0, {}
                st.uncertain = set(e.get("uncertain") or [])
                continue
            if st.app_id is None and isinstance(e.get("app_id"), str):
                st.app_id = e["app_id"]
            if e.get("app_id") == st.app_id and isinstance(e.get("batch"), int):
                st.last_batch = max(st.last_batch, e["batch"])
            if event == "planned":
                planned[_key(e)] = e
            elif event in ("committed", "skipped-duplicate"):
                done = planned.pop(_key(e), None)
                st.shipped.update(_stems(e) or (_stems(done) if done else []))
        st.pending = list(planned.values())
        st.uncertain -= st.shipped
        return st

    def rewrite(self, entries: list[dict]) -> None:
        """Replace the ledger with ``entries`` atomically; a damaged ledger is kept aside."""
        make_private_dirs(os.path.dirname(self.path))
        _, damaged = self.entries()
        if damaged and os.path.exists(self.path):
            os.replace(self.path, f"{self.path}.damaged-{int(time.time())}")
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(encode_entry(e) for e in entries))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def shipped_to(self, *targets: str) -> set[str]:
        """Stems this ledger says were committed to a target named one of ``targets``."""
        shipped: set[str] = set()
        pending: dict[Any, list[str]] = {}
        for entry in self.entries()[0]:
            event = entry.get("event")
            if event == "planned" and entry.get("target") in targets:
                pending[_key(entry)] = _stems(entry)
            elif event in ("committed", "skipped-duplicate") and _key(entry) in pending:
                shipped.update(_stems(entry) or pending.pop(_key(entry)))
        return shipped

    def last_table_version(self, *targets: str) -> int | None:
        """The Delta version of this spool's last committed batch to a target named one of
        ``targets`` (its display name or legacy key); None if it never committed there."""
        version = None
        for entry in self.entries()[0]:
            if (
                entry.get("event") == "committed"
                and entry.get("target") in targets
                and isinstance(entry.get("table_version"), int)
            ):
                version = entry["table_version"]
        return version


def _well_formed(e: dict) -> bool:
    event = e.get("event")
    if event == "rebuilt":
        return isinstance(e.get("app_id"), str)
    if event not in ("planned", "committed", "skipped-duplicate"):
        return True  # other events are informational
    if not isinstance(e.get("batch"), int) or not isinstance(e.get("files", []), list):
        return False
    return event != "planned" or isinstance(e.get("app_id"), str)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
