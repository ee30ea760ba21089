"""A flush with nothing to ship leaves the table alone (with Spark, reading it starts a job)."""

from __future__ import annotations

import pytest

pytest.importorskip("deltalake")

from laketrace import flush_to_delta
from laketrace.flush.delta_rs import DeltaRsWriter


def _no_table_access(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, *args, **kwargs):
        raise AssertionError("an empty flush touched the table")

    for name in ("exists", "table_version", "ensure_tables", "write_batch"):
        monkeypatch.setattr(DeltaRsWriter, name, refuse)


def test_empty_flush_reports_the_last_committed_version_without_reading_the_table(
    make_logger, log_dir, tmp_path, monkeypatch
):
    """After a commit, a flush with nothing new returns the ledger's table version."""
    log = make_logger()
    log.info("one")
    target = str(tmp_path / "table")
    first = log.flush_to_delta(path=target)
    log.info("two")
    second = log.flush_to_delta(path=target)
    assert (first.records, second.records) == (1, 1)
    _no_table_access(monkeypatch)
    empty = flush_to_delta(log_dir=log_dir, path=target)
    assert (empty.records, empty.batches, empty.table_version) == (0, 0, second.table_version)


def test_empty_flush_of_a_spool_that_never_committed_reports_no_version(
    make_logger, log_dir, tmp_path, monkeypatch
):
    """A spool with nothing sealed and no commit to the target reports table_version None."""
    make_logger().close()
    _no_table_access(monkeypatch)
    res = flush_to_delta(log_dir=log_dir, path=str(tmp_path / "table"))
    assert (res.records, res.table_version) == (0, None)
