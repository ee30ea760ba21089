"""The flush step: plan batches of sealed spool files (`plan`), prepare and validate them
(`prepare`, `validate`), and write each as one idempotent Delta commit through a `Writer`
(`delta_rs` without a JVM, `spark` with a SparkSession)."""

from __future__ import annotations

from ..errors import FlushError, SchemaMismatchError
from .run import FlushResult, flush_to_delta

__all__ = ["FlushError", "FlushResult", "SchemaMismatchError", "flush_to_delta"]
