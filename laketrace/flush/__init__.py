"""The flush step: plan batches of sealed spool files (`plan`), prepare and validate them
(`prepare`, `scan`, `validate`: the one rule), and write each as one idempotent Delta
commit through a `Writer` (`delta_rs` + `duck_read` without a JVM, `spark` + `spark_read`
with a SparkSession, `connect` with a Spark Connect session: delta-rs's read side on the
client, the commit on the server). Each commit records what it shipped (`commits`); the
local ledger is rebuilt from the table's history when it is lost, damaged or behind
(`rebuild`)."""

from __future__ import annotations

from ..errors import FlushError, SchemaMismatchError
from .result import FlushResult
from .run import flush_to_delta

__all__ = ["FlushError", "FlushResult", "SchemaMismatchError", "flush_to_delta"]
