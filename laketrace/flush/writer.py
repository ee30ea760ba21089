"""What the flush step and its writers share: the `Writer` protocol, the prepared batch,
its outcome, the table properties and the schema check. Writers import this module; the
flush step picks a writer; neither imports the other's internals."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Protocol

from ..errors import SchemaMismatchError

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
    readable: list[str]
    quarantine: list[QuarantineRow]
    ingested_at: _dt.datetime


@dataclass
class Outcome:
    """What a writer did with one batch."""

    records: int
    table_version: int | None
    skipped: bool
    quarantined: int = 0


class Writer(Protocol):
    """A Delta writer for one target (`laketrace.flush.delta_rs`, `laketrace.flush.spark`)."""

    name: str
    #: compressed spool files the writer reads as they are (others are decompressed first)
    compressions: tuple[str, ...]

    def exists(self) -> bool:
        """Whether the target table exists."""

    def table_version(self) -> int | None:
        """The target's latest version (None if it does not exist)."""

    def ensure_tables(self, partition_by: str | None) -> None:
        """Create the target table if needed, or check its schema."""

    def problem_files(self, paths: list[str]) -> set[str]:
        """Files with lines the writer would reject (split line by line before writing)."""

    def write_batch(self, prepared: Prepared, app_id: str) -> Outcome:
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
