"""The delta-rs writer's view of `deltalake`: every table it opens gets the current options."""

from __future__ import annotations

import types

from laketrace.flush.rs_options import with_storage_options


class FakeTable:
    """Records the options each table was opened with."""

    opened: list[dict | None] = []

    def __init__(self, uri: str, storage_options: dict | None = None) -> None:
        FakeTable.opened.append(storage_options)

    @staticmethod
    def is_deltatable(uri: str, storage_options: dict | None = None) -> bool:
        FakeTable.opened.append(storage_options)
        return True

    @staticmethod
    def create(uri: str, **kwargs: object) -> str:
        FakeTable.opened.append(kwargs.get("storage_options"))  # type: ignore[arg-type]
        return "created"


def test_each_table_opened_gets_the_options_of_that_moment():
    """A renewed token reaches the next table opened (open, is_deltatable and create)."""
    FakeTable.opened = []
    module = types.SimpleNamespace(DeltaTable=FakeTable, write_deltalake=lambda *a: "w")
    tokens = iter(["t1", "t2", "t3"])
    dl = with_storage_options(module, lambda: {"bearer_token": next(tokens)})
    dl.DeltaTable("abfss://c@a.dfs.core.windows.net/t")
    assert dl.DeltaTable.is_deltatable("abfss://c@a.dfs.core.windows.net/t")
    assert dl.DeltaTable.create("abfss://c@a.dfs.core.windows.net/t") == "created"
    assert [o["bearer_token"] for o in FakeTable.opened] == ["t1", "t2", "t3"]
    assert dl.write_deltalake() == "w"


def test_no_options_leaves_the_module_alone():
    """Without options (local paths) the writer uses `deltalake` itself."""
    module = types.SimpleNamespace(DeltaTable=FakeTable)
    assert with_storage_options(module, None) is module
