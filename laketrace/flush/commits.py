"""What each LakeTrace commit records about itself, and reading it back from table history.

Every commit the flush step makes carries a small JSON document in the commit's
``userMetadata`` (Spark's writer option; delta-rs writes the same commitInfo field through
``CommitProperties(custom_metadata=...)``): the spool id, the Delta txn app id and batch,
the table kind and the spool files (stem and size) it shipped. So the table itself says
which spool files it holds, and a lost or damaged local ledger is rebuilt from it.

>>> meta = commit_meta(spool="s1", app="a", batch=3, kind="main", files=[("x.sealed.jsonl", 9)])
>>> parse_meta(meta)["batch"]
3
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

META_VERSION = 1
Kind = Literal["main", "quarantine"]

#: operations that never add rows: a commit of any other kind without LakeTrace metadata
#: may hold records the flush cannot attribute, so shipping after a rebuild is idempotent
NO_DATA_OPERATIONS = frozenset(
    {
        "CREATE TABLE",
        "DELETE",
        "OPTIMIZE",
        "VACUUM START",
        "VACUUM END",
        "SET TBLPROPERTIES",
        "UNSET TBLPROPERTIES",
        "ADD COLUMNS",
        "CHANGE COLUMN",
        "UPGRADE PROTOCOL",
        "ADD CONSTRAINT",
        "DROP CONSTRAINT",
        "FSCK",
        "REORG",
        "UPDATE SCHEMA",
        "SET TABLE PROPERTIES",
    }
)


@dataclass(frozen=True)
class Commit:
    """One entry of a Delta table's history, with LakeTrace's metadata if it has any."""

    version: int
    timestamp_ms: int
    operation: str
    meta: dict[str, Any] | None

    @property
    def unattributed(self) -> bool:
        """A commit that may have added rows but does not say what it shipped."""
        return self.meta is None and self.operation.upper() not in NO_DATA_OPERATIONS


@dataclass
class History:
    """The commits of a table newer than some time, newest first.

    ``complete`` is False when the table's log no longer reaches back that far (old
    commits were cleaned up), so a spool file missing from it may still be in the table.
    """

    commits: list[Commit] = field(default_factory=list)
    complete: bool = True

    def find(self, app: str, batch: int) -> Commit | None:
        """The commit of txn (``app``, ``batch``), if the history has it."""
        for c in self.commits:
            if c.meta is not None and c.meta.get("app") == app and c.meta.get("batch") == batch:
                return c
        return None


def commit_meta(
    *,
    spool: str,
    app: str,
    batch: int,
    kind: Kind,
    files: list[tuple[str, int]],
    quarantined: int | None = None,
) -> str:
    """The ``userMetadata`` of one LakeTrace commit (compact JSON)."""
    doc = {
        "laketrace": META_VERSION,
        "spool": spool,
        "app": app,
        "batch": batch,
        "kind": kind,
        "files": [[stem, size] for stem, size in files],
        "quarantined": quarantined,
    }
    return json.dumps(doc, separators=(",", ":"))


def parse_meta(text: Any) -> dict[str, Any] | None:
    """LakeTrace's metadata from a commit's ``userMetadata``, or None if it has none."""
    if not isinstance(text, str) or '"laketrace"' not in text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("laketrace"), int):
        return None
    if not isinstance(doc.get("app"), str) or not isinstance(doc.get("batch"), int):
        return None
    files = doc.get("files")
    if not isinstance(files, list):
        return None
    doc["files"] = [
        (f[0], f[1]) for f in files if isinstance(f, list) and len(f) == 2 and isinstance(f[0], str)
    ]
    return doc


def page_sizes(first: int = 64, limit: int = 1 << 20) -> list[int]:
    """History page sizes when reading backwards in time: 64, 256, 1024, ..."""
    out = []
    n = first
    while n < limit:
        out.append(n)
        n *= 4
    out.append(limit)
    return out


def read_back(commits: Callable[[int], list[Commit]], since_ms: int) -> History:
    """The commits at or after ``since_ms``, read backwards a page at a time.

    ``commits(limit)`` returns the newest ``limit`` commits of the table. The history is
    complete when it reaches a commit older than ``since_ms`` or the table's first one.
    """
    found: list[Commit] = []
    for limit in page_sizes():
        found = commits(limit)
        oldest = min(found, key=lambda c: c.version, default=None)
        if oldest is None or oldest.timestamp_ms < since_ms:
            return History(found, True)
        if len(found) < limit:
            return History(found, oldest.version == 0)
    return History(found, False)
