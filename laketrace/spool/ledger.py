"""The ledger (``<log_dir>/_laketrace/manifest.jsonl``): which sealed files the flush step
planned and committed. The flush step writes it; retention reads it, so it lives with the
spool rather than with the flush."""

from __future__ import annotations

import json
import os

from ._fs import make_private_dirs
from .names import INTERNAL_DIR


def manifest_path(log_dir: str) -> str:
    """The append-only manifest of flush batches for ``log_dir``."""
    return os.path.join(log_dir, INTERNAL_DIR, "manifest.jsonl")


def shipped_stems(log_dir: str) -> set[str]:
    """Stems of sealed files whose batch was committed to the Delta target."""
    path = manifest_path(log_dir)
    shipped: set[str] = set()
    pending: dict[int, list[str]] = {}
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return shipped
    with fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn last line from a crash: the batch is not committed
            event = entry.get("event")
            batch = entry.get("batch")
            if event == "planned":
                pending[batch] = [f["stem"] for f in entry.get("files", [])]
            elif event in ("committed", "skipped-duplicate"):
                shipped.update(pending.pop(batch, []))
    return shipped


class Manifest:
    """The append-only record of flush batches for one spool directory.

    Each batch is written as ``planned`` (with its files) before anything reaches Delta
    and ``committed`` after; entries are fsynced. A ``planned`` batch without ``committed``
    is re-run with the same files and the same Delta txnVersion by the next flush.
    """

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.path = manifest_path(log_dir)

    def append(self, entry: dict) -> None:
        make_private_dirs(os.path.dirname(self.path))
        data = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(self.path):
                data = b"\n" + data  # a torn entry from a crash stays on its own line
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self, target_key: str) -> list[dict]:
        out: list[dict] = []
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return out
        with fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("target") == target_key:
                    out.append(entry)
        return out

    def state(self, target_key: str) -> tuple[int, list[dict], set[str]]:
        """``(last_version, unfinished_planned_entries, shipped_stems)`` for one target."""
        last = 0
        planned: dict[int, dict] = {}
        shipped: set[str] = set()
        for entry in self.entries(target_key):
            batch = int(entry.get("batch", 0))
            last = max(last, batch)
            if entry.get("event") == "planned":
                planned[batch] = entry
            elif entry.get("event") in ("committed", "skipped-duplicate"):
                done = planned.pop(batch, None)
                if done is not None:
                    shipped.update(f["stem"] for f in done.get("files", []))
        return last, [planned[b] for b in sorted(planned)], shipped

    def last_table_version(self, target_key: str) -> int | None:
        """The Delta version of this spool's last committed batch to one target (None if none)."""
        version = None
        for entry in self.entries(target_key):
            if entry.get("event") == "committed" and isinstance(entry.get("table_version"), int):
                version = entry["table_version"]
        return version


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
