"""Rebuilding the local ledger from the target table's history.

Runs when the ledger knows nothing about the table (first flush of this spool to it, or
the ledger was deleted or emptied), when a line of it is damaged, or when the table holds
a batch the ledger calls new. Only commits newer than the oldest spool file present (less
a margin for clock skew) can hold those files, so only that part of the history is read.

* a file named in a commit's metadata is shipped (its batch is ``committed``; if the
  batch's quarantine commit cannot be confirmed, the batch is re-run for its quarantine
  rows only, which is idempotent);
* a file named nowhere is shipped again, under a new txn app id, and *idempotently*
  (only record_ids the table does not hold) when the history cannot vouch for it: the
  log no longer reaches back far enough, or a commit without LakeTrace metadata may have
  added rows.
"""

from __future__ import annotations

import secrets
import time

from ..spool.ledger import Manifest
from .commits import Commit
from .plan import created_ms
from .writer import Writer

#: commits may carry a clock a little behind the spool's; read this much further back
MARGIN_MS = 3600 * 1000


def new_app_id(spool: str, table_id: str) -> str:
    """A fresh Delta txn app id for this spool and table (a new batch sequence)."""
    return f"laketrace-{spool}-{table_id}-{secrets.token_hex(4)}"


def _batch_entry(c: Commit, table_id: str, event: str) -> dict:
    assert c.meta is not None
    return {
        "event": event,
        "table_id": table_id,
        "app_id": c.meta["app"],
        "batch": c.meta["batch"],
        "files": [{"stem": s, "size": n} for s, n in c.meta["files"]],
        "table_version": c.version,
        "rebuilt": True,
        "at": c.timestamp_ms / 1000,
    }


def rebuild(
    writer: Writer,
    manifest: Manifest,
    *,
    table_id: str,
    spool: str,
    files: dict[str, str],
    reason: str,
    legacy_key: str | None = None,
) -> dict:
    """Rewrite ``manifest``'s entries for ``table_id`` from the table; returns a summary."""
    now_ms = int(time.time() * 1000)
    oldest = min((created_ms(stem, path) for stem, path in files.items()), default=now_ms)
    since = max(0, oldest - MARGIN_MS)
    main = writer.history(since)
    found: dict[tuple[str, int], Commit] = {}
    for c in main.commits:
        if c.meta and c.meta.get("kind", "main") == "main":
            if any(stem in files for stem, _ in c.meta["files"]):
                found.setdefault((c.meta["app"], c.meta["batch"]), c)
    shipped = {stem for c in found.values() if c.meta for stem, _ in c.meta["files"]}
    unsure = not main.complete or any(c.unattributed for c in main.commits)
    uncertain = sorted(set(files) - shipped) if unsure else []
    q_hist = writer.history(since, quarantine=True) if found else None
    app_id = new_app_id(spool, table_id)
    entries: list[dict] = [
        {
            "event": "rebuilt",
            "table_id": table_id,
            "app_id": app_id,
            "reason": reason,
            "uncertain": uncertain,
            "table_version": max((c.version for c in main.commits), default=None),
            "at": now_ms / 1000,
        }
    ]
    for (app, batch), c in sorted(found.items(), key=lambda kv: kv[1].version):
        q_known = c.meta is not None and c.meta.get("quarantined") == 0
        q_known = q_known or (q_hist is not None and q_hist.find(app, batch) is not None)
        entries.append(_batch_entry(c, table_id, "committed" if q_known else "planned"))
    old, damaged = manifest.entries()
    keep = [] if damaged else [e for e in old if not _belongs(e, table_id, legacy_key)]
    manifest.rewrite(keep + entries)
    return {
        "reason": reason,
        "history_commits": len(main.commits),
        "shipped": len(shipped & set(files)),
        "uncertain": len(uncertain),
    }


def _belongs(entry: dict, table_id: str, legacy_key: str | None) -> bool:
    tid = entry.get("table_id")
    return tid == table_id or (
        tid is None and legacy_key is not None and entry.get("target") == legacy_key
    )
