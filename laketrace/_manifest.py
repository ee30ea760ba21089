"""What the flush step has shipped, as seen by retention (the flush step writes it)."""

from __future__ import annotations

import json
import os

from ._spool import INTERNAL_DIR


def manifest_path(log_dir: str) -> str:
    """The append-only manifest of flush batches for ``log_dir``."""
    return os.path.join(log_dir, INTERNAL_DIR, "manifest.jsonl")


def spool_stem(filename: str) -> str:
    """A sealed spool file's identity, independent of later compression."""
    name = os.path.basename(filename)
    for ext in (".gz", ".bz2", ".xz", ".zip"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


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
