"""What the flush step and its writers share: the `Writer` protocol, the prepared batch,
its outcome, the table properties and the schema check. Writers import this module; the
flush step picks a writer; neither imports the other's internals."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import SchemaMismatchError
from ..spool.names import COMPRESSED_SUFFIXES, spool_stem
from .commits import Commit, History

TABLE_DESCRIPTION = (
    "LakeTrace logs (schema v1): one row per log record from drivers, executors, the Spark "
    "listener and stdlib logging. Columns: laketrace.schema."
)
QUARANTINE_DESCRIPTION = "LakeTrace quarantine: spool lines the flush step did not accept."
# appendOnly stays off so `laketrace vacuum` (retention deletes) remains possible
TABLE_PROPERTIES = {"delta.appendOnly": "false"}


@dataclass
class QuarantineRow:
    """One line the flush step did not accept."""

    source_file: str
    line_no: int | None
    reason: str
    raw_line: str


@dataclass
class Prepared:
    """A batch made ready for a writer: readable clean files plus quarantined lines."""

    version: int
    readable: list[str] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    ingested_at: _dt.datetime | None = None
    #: the Delta txn app id (the quarantine table uses ``app_id + ":q"``)
    app_id: str = ""
    #: commit metadata (``userMetadata``) of the main and the quarantine commit
    main_meta: str = ""
    q_meta: str = ""
    #: insert only record_ids the table does not hold yet
    idempotent: bool = False
    #: the main / quarantine commit of this txn is already in the table (a resumed batch)
    main_done: bool = False
    q_done: bool = False
    #: a new batch: finding its txn already committed means the ledger is behind the table
    fresh: bool = True
    #: names of the batch's source files (quarantine rows are keyed by them and line_no)
    sources: list[str] = field(default_factory=list)
    #: readable path -> the source file name its quarantine rows carry
    origin: dict[str, str] = field(default_factory=dict)
    #: planned files that were gone (one quarantine row each, if ``report_missing``)
    missing: list[str] = field(default_factory=list)
    report_missing: bool = True


@dataclass
class Outcome:
    """What a writer did with one batch."""

    records: int
    table_version: int | None
    #: the main commit of this txn was already in the table, nothing new was appended
    skipped: bool
    quarantined: int = 0


class Writer(Protocol):
    """A Delta writer for one target (`laketrace.flush.delta_rs`, `laketrace.flush.spark`)."""

    name: str
    #: byte-scan checks (`laketrace.flush.scan`) for what the writer's JSON engine accepts
    #: but the one rule rejects
    lenient: frozenset[str]

    def scope(self) -> Any:
        """A context the whole flush runs in (Spark: LakeTrace's job group)."""

    def exists(self) -> bool:
        """Whether the target table exists."""

    def table_version(self) -> int | None:
        """The target's latest version (None if it does not exist)."""

    def ensure_tables(self, partition_by: str | None) -> None:
        """Create the target table if needed, or check its schema."""

    def table_id(self) -> str:
        """The target's Delta table id (metadata ``id``): the same whatever the path spelling."""

    def latest(self, limit: int) -> list[Commit]:
        """The target's newest ``limit`` commits."""

    def history(self, since_ms: int, *, quarantine: bool = False) -> History:
        """Commits of the target (or its quarantine table) at or after ``since_ms``."""

    def committed(self, app_id: str, version: int, since_ms: int, *, quarantine: bool) -> bool:
        """Whether txn (``app_id``, ``version``) is in the target (or quarantine) table."""

    def problem_files(self, paths: list[str]) -> set[str]:
        """Files with lines the writer would reject (split line by line before writing)."""

    def write_batch(self, prepared: Prepared) -> Outcome:
        """Append the batch (and its quarantine rows) idempotently as txn (app_id, version)."""


def check_columns(location: str, want: dict[str, str], have: dict[str, str], fix: str) -> None:
    """Raise `SchemaMismatchError` naming missing, unexpected and retyped columns."""
    if want == have:
        return
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    raise SchemaMismatchError(
        f"the Delta table {location} exists with a different schema; nothing was written. "
        f"Missing columns: {missing or 'none'}; unexpected columns: {extra or 'none'}; "
        f"different types: {[f'{k}: {have[k]} (expected {want[k]})' for k in changed] or 'none'}. "
        f"{fix}"
    )


def quarantine_key(source_file: str, line_no: int | None) -> tuple[str, int | None]:
    """What identifies a quarantine row: its file (whatever its compression) and line."""
    return spool_stem(source_file), line_no


def name_variants(names: list[str]) -> list[str]:
    """Every name the files ``names`` may have had in quarantine rows (each compression)."""
    out: set[str] = set()
    for n in names:
        stem = spool_stem(n)
        out.add(stem)
        out.update(stem + ext for ext in COMPRESSED_SUFFIXES)
    return sorted(out)


def new_rows(
    rows: list[QuarantineRow], existing: set[tuple[str, int | None]]
) -> list[QuarantineRow]:
    """``rows`` without those the quarantine table already holds (and without repeats)."""
    out = []
    seen = set(existing)
    for r in rows:
        key = quarantine_key(r.source_file, r.line_no)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
