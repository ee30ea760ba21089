"""The Connect writer's choice and tagging, with a fake Connect session (the writer against
a real Spark Connect server is tested in tests/spark/test_connect.py)."""

from __future__ import annotations

import pytest

from laketrace.flush.connect import FLUSH_TAG, ConnectWriter, flush_tag
from laketrace.flush.run import DEFAULT_BATCH_BYTES, choose_writer
from laketrace.targets import resolve_target

pytest.importorskip("pyarrow")


class FakeConnectSession:
    """Just enough of a Spark Connect session: per-session operation tags."""

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.added: list[str] = []

    def addTag(self, tag: str) -> None:
        self.tags.add(tag)
        self.added.append(tag)

    def removeTag(self, tag: str) -> None:
        self.tags.remove(tag)

    def getTags(self) -> set[str]:
        return set(self.tags)


FakeConnectSession.__module__ = "pyspark.sql.connect.session"


def test_a_connect_session_gets_the_connect_writer(tmp_path):
    """choose_writer picks the Connect writer for a Spark Connect session, any target."""
    spark = FakeConnectSession()
    for target in (
        resolve_target(path=str(tmp_path / "t"), table=None, runtime="local", has_spark=True),
        resolve_target(path=None, table="main.ops.logs", runtime="local", has_spark=True),
    ):
        writer = choose_writer(spark, target)
        assert isinstance(writer, ConnectWriter) and writer.name == "connect"
    assert DEFAULT_BATCH_BYTES["connect"] == 128 * 1024 * 1024


def test_the_flush_tag_is_added_once_and_removed_by_the_block_that_added_it():
    """flush_tag is re-entrant: nested scopes keep the tag until the outer one ends."""
    spark = FakeConnectSession()
    spark.addTag("user-tag")
    with flush_tag(spark):
        with flush_tag(spark):
            assert spark.getTags() == {"user-tag", FLUSH_TAG}
        assert FLUSH_TAG in spark.getTags()
    assert spark.getTags() == {"user-tag"}
    assert spark.added.count(FLUSH_TAG) == 1


def test_a_client_without_tags_flushes_untagged():
    """A session without addTag (an old client) runs the flush without a tag, no error."""
    with flush_tag(object()):
        pass


def test_sql_names_quote_paths_and_keep_table_names():
    """A path becomes delta.`path` (backticks doubled); a catalog name stays as it is."""
    spark = FakeConnectSession()
    path = resolve_target(path="/tmp/we`ird", table=None, runtime="local", has_spark=True)
    table = resolve_target(path=None, table="main.ops.logs", runtime="local", has_spark=True)
    assert ConnectWriter(spark, path)._ref(path.location) == "delta.`/tmp/we``ird`"
    assert ConnectWriter(spark, table)._ref(table.location) == "main.ops.logs"
