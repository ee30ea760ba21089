"""Table retention: delete rows older than an age, then vacuum unreferenced files.

>>> from laketrace import vacuum
>>> vacuum(path="./lakehouse/laketrace_logs", older_than="30 days")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import runtime as _runtime
from .._units import parse_duration
from ..errors import ConfigError
from ..storage import check_storage_options, storage_for, store_errors
from ..targets import resolve_target


@dataclass
class VacuumResult:
    """What `vacuum` removed."""

    cutoff: _dt.datetime
    deleted_rows: int
    removed_files: int


def _age_seconds(older_than: str | _dt.timedelta) -> float:
    if isinstance(older_than, _dt.timedelta):
        return older_than.total_seconds()
    seconds = parse_duration(str(older_than).strip().lower())
    if seconds is None or seconds <= 0:
        raise ConfigError(
            f"vacuum: older_than={older_than!r} is not an age; use e.g. '30 days', '12 h' "
            "or a timedelta."
        )
    return seconds


def vacuum(
    spark: Any = None,
    *,
    path: str | os.PathLike[str] | None = None,
    table: str | None = None,
    older_than: str | _dt.timedelta = "30 days",
    retain_hours: int = 168,
    now: float | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> VacuumResult:
    """Delete rows with ``ts`` older than ``older_than`` and vacuum files past ``retain_hours``.

    ``storage_options`` reach an object-store table without Spark (never printed).
    """
    options = check_storage_options(storage_options, what="vacuum: storage_options")
    cutoff = _dt.datetime.fromtimestamp(
        (time.time() if now is None else now) - _age_seconds(older_than), _dt.timezone.utc
    )
    target = resolve_target(
        path=path, table=table, runtime=_runtime.detect_runtime(), has_spark=spark is not None
    )
    day = cutoff.date().isoformat()
    stamp = cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")
    if spark is not None:
        from delta.tables import DeltaTable

        dt = (
            DeltaTable.forName(spark, target.location)
            if target.kind == "table"
            else DeltaTable.forPath(spark, target.location)
        )
        dt.delete(f"date <= DATE'{day}' AND ts < TIMESTAMP'{stamp}'")
        last = dt.history(1).first()
        metrics = (last["operationMetrics"] if last is not None else None) or {}
        dt.vacuum(retain_hours)
        return VacuumResult(cutoff, int(metrics.get("numDeletedRows", 0)), -1)
    from deltalake import DeltaTable as RsTable

    uri = target.local_path or target.location
    get = storage_for(uri, options)
    pred = f"date <= '{day}' AND ts < '{cutoff.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    with store_errors(uri, options, doing="vacuum of"):
        t = RsTable(uri, storage_options=get() if get is not None else None)
        metrics = t.delete(pred)
        removed = t.vacuum(
            retention_hours=retain_hours, dry_run=False, enforce_retention_duration=False
        )
    return VacuumResult(cutoff, int(metrics.get("num_deleted_rows", 0)), len(removed))
