"""`FlushResult`: what one flush shipped, quarantined, found missing and rebuilt."""

from __future__ import annotations

from dataclasses import dataclass, field

from .plan import Batch
from .writer import Outcome


@dataclass
class FlushResult:
    """What one flush shipped."""

    files: int = 0
    records: int = 0
    quarantined: int = 0
    bytes: int = 0
    seconds: float = 0.0
    table_version: int | None = None
    batches: int = 0
    skipped_batches: int = 0
    target: str = ""
    writer: str = ""
    recovered: list[str] = field(default_factory=list)
    #: planned spool files that were gone before they could be shipped (each has a
    #: ``missing`` row in the quarantine table)
    missing: list[str] = field(default_factory=list)
    #: why the ledger was rebuilt from the table's history, if it was
    rebuilt: list[str] = field(default_factory=list)
    #: batches shipped idempotently (only record_ids the table did not hold)
    idempotent_batches: int = 0

    def __str__(self) -> str:
        return (
            f"flushed {self.records:,} records from {self.files} file(s) "
            f"({self.bytes / 1e6:.1f} MB) in {self.batches} batch(es) to {self.target} "
            f"with {self.writer} in {self.seconds:.1f}s; quarantined {self.quarantined}; "
            f"table version {self.table_version}"
            + (f"; {len(self.missing)} planned file(s) missing" if self.missing else "")
        )

    def add(self, batch: Batch, outcome: Outcome) -> None:
        """Count one batch's outcome."""
        self.batches += 1
        self.files += len(batch.files)
        self.bytes += sum(f.size for f in batch.files)
        self.records += 0 if outcome.skipped else outcome.records
        self.quarantined += outcome.quarantined
        self.skipped_batches += outcome.skipped
        self.idempotent_batches += batch.idempotent
        self.table_version = outcome.table_version
