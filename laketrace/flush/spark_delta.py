"""What the Spark writer (`laketrace.flush.spark`) and the Spark Connect writer
(`laketrace.flush.connect`) share: the idempotent Delta append, reading commits from a
``DESCRIBE HISTORY`` frame, and the schema check of an existing table. Both writers drive
the same ``DataFrameWriter`` API, so one copy of each keeps them from drifting apart."""

from __future__ import annotations

from typing import Any

from .commits import Commit, parse_meta
from .writer import check_columns


def delta_append(
    df: Any, location: str, *, table: bool, app_id: str, version: int, meta: str
) -> None:
    """Append ``df`` to the Delta table at ``location`` (a catalog name if ``table``) as
    txn (``app_id``, ``version``) with LakeTrace's commit metadata; Delta itself skips a
    txn committed before."""
    writer = (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", str(version))
        .option("userMetadata", meta)
    )
    if table:
        writer.saveAsTable(location)
    else:
        writer.save(location)


def commits_from_rows(rows: Any) -> list[Commit]:
    """`Commit` s from history rows of ``(version, unix millis, operation, userMetadata)``."""
    return [Commit(int(r[0]), int(r[1] or 0), str(r[2] or ""), parse_meta(r[3])) for r in rows]


def check_schema(location: str, expected: Any, existing: Any) -> None:
    """Raise `SchemaMismatchError` if the Spark schema ``existing`` is not ``expected``."""
    check_columns(
        location,
        {f.name: f.dataType.simpleString() for f in expected.fields},
        {f.name: f.dataType.simpleString() for f in existing.fields},
        "Flush to a new table, or migrate it to laketrace.schema.spark_schema().",
    )
