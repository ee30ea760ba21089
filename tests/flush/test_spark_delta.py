"""What the Spark and Spark Connect writers share (`laketrace.flush.spark_delta`), checked
without a JVM against a recording stand-in for Spark's ``DataFrameWriter``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from laketrace.errors import SchemaMismatchError
from laketrace.flush.spark_delta import check_schema, commits_from_rows, delta_append


class _Writer:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> _Writer:
            self.calls.append((name, args))
            return self

        return record


def _frame(calls: list[tuple[str, Any]]) -> Any:
    return SimpleNamespace(write=_Writer(calls))


@pytest.mark.parametrize(("table", "verb"), [(False, "save"), (True, "saveAsTable")])
def test_append_is_an_idempotent_delta_txn_to_a_path_or_a_table(table, verb):
    """The append names the txn and its metadata, then saves to a path or a catalog table."""
    calls: list[tuple[str, Any]] = []
    delta_append(_frame(calls), "loc", table=table, app_id="app", version=7, meta='{"m":1}')
    assert calls == [
        ("format", ("delta",)),
        ("mode", ("append",)),
        ("option", ("txnAppId", "app")),
        ("option", ("txnVersion", "7")),
        ("option", ("userMetadata", '{"m":1}')),
        (verb, ("loc",)),
    ]


def test_history_rows_become_commits_with_laketrace_metadata_parsed():
    """A history row keeps version, time and operation; foreign metadata reads as None."""
    meta = '{"laketrace":1,"app":"a","batch":3,"files":[]}'
    got = commits_from_rows([(5, 1_000, "WRITE", meta), (4, None, None, "user text")])
    assert [(c.version, c.timestamp_ms, c.operation) for c in got] == [
        (5, 1_000, "WRITE"),
        (4, 0, ""),
    ]
    assert got[0].meta is not None and got[0].meta["batch"] == 3 and got[1].meta is None


def _schema(**cols: str) -> Any:
    fields = [
        SimpleNamespace(name=n, dataType=SimpleNamespace(simpleString=lambda t=t: t))
        for n, t in cols.items()
    ]
    return SimpleNamespace(fields=fields)


def test_schema_check_names_the_column_that_differs():
    """A table with a retyped column is refused with the column, both types and the fix."""
    check_schema("t", _schema(a="int"), _schema(a="int"))
    with pytest.raises(SchemaMismatchError, match=r"a: string \(expected int\).*spark_schema"):
        check_schema("t", _schema(a="int"), _schema(a="string"))
