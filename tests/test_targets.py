"""Flush target resolution for local, OneLake, Fabric mount, DBFS, UC volumes and tables."""

from __future__ import annotations

import pytest

from laketrace import ConfigError
from laketrace.targets import (
    check_path,
    check_table,
    resolve_target,
    rs_reachable,
    with_quarantine,
)


def test_default_is_local_lakehouse_path():
    """No target means ./lakehouse/laketrace_logs."""
    t = resolve_target(cwd="/work")
    assert (t.kind, t.location, t.local_path) == (
        "path",
        "/work/lakehouse/laketrace_logs",
        "/work/lakehouse/laketrace_logs",
    )
    assert t.quarantine == "/work/lakehouse/laketrace_logs_quarantine"


def test_relative_and_home_paths_are_absolute():
    """Relative paths resolve against the working directory."""
    assert resolve_target(path="logs/t", cwd="/w").location == "/w/logs/t"


def test_onelake_abfss_needs_spark_or_credentials():
    """An abfss OneLake path is a remote path target with no local path."""
    url = "abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Tables/app_logs"
    t = resolve_target(path=url, runtime="fabric", has_spark=True)
    assert (t.kind, t.location, t.local_path, t.remote) == ("path", url, None, True)
    assert t.quarantine.endswith("/Tables/app_logs_quarantine")


def test_fabric_default_lakehouse_mount():
    """/lakehouse/default/Tables/x: Spark writes Tables/x, delta-rs the mount; one key."""
    spark_t = resolve_target(
        path="/lakehouse/default/Tables/logs", runtime="fabric", has_spark=True
    )
    rs_t = resolve_target(path="/lakehouse/default/Tables/logs", runtime="fabric")
    assert spark_t.location == "Tables/logs"
    assert rs_t.location == rs_t.local_path == "/lakehouse/default/Tables/logs"
    assert spark_t.key == rs_t.key


def test_dbfs_paths():
    """dbfs:/ is for Spark; on Databricks delta-rs may use the /dbfs mount."""
    on_dbx = resolve_target(path="dbfs:/logs/app", runtime="databricks")
    assert on_dbx.local_path == "/dbfs/logs/app"
    assert resolve_target(path="dbfs:/logs/app", runtime="local").local_path is None


def test_unity_catalog_volume_path():
    """/Volumes/<catalog>/<schema>/<volume>/... is a path-based Delta target."""
    t = resolve_target(path="/Volumes/main/ops/logs/app_logs", runtime="databricks")
    assert (t.kind, t.location) == ("path", "/Volumes/main/ops/logs/app_logs")


def test_catalog_table_needs_spark():
    """A catalog.schema.table name needs Spark; the error says what to do instead."""
    t = resolve_target(table="main.ops.app_logs", runtime="databricks", has_spark=True)
    assert (t.kind, t.location, t.quarantine) == (
        "table",
        "main.ops.app_logs",
        "main.ops.app_logs_quarantine",
    )
    with pytest.raises(ConfigError, match=r"needs Spark.*path="):
        resolve_target(table="main.ops.app_logs", runtime="local")


def test_bare_table_name_picks_platform_default():
    """A bare table name goes to the default lakehouse on Fabric, the current schema on
    Databricks and ./lakehouse without Spark."""
    fab = resolve_target(table="app_logs", runtime="fabric", has_spark=True)
    assert fab.location == "Tables/app_logs"
    dbx = resolve_target(table="app_logs", runtime="databricks", has_spark=True)
    assert (dbx.kind, dbx.location) == ("table", "app_logs")
    local = resolve_target(table="app_logs", runtime="local", cwd="/w")
    assert local.location == "/w/lakehouse/app_logs"


@pytest.mark.parametrize("bad", ["drop table x;", "a..b", "x y", ""])
def test_bad_table_names(bad):
    """Malformed table names get an error showing accepted forms."""
    with pytest.raises(ConfigError, match="not a table name"):
        resolve_target(table=bad, has_spark=True)


def test_both_path_and_table_rejected():
    """path= and table= together is an error."""
    with pytest.raises(ConfigError, match="either path="):
        resolve_target(path="/a", table="t")


def test_unsupported_uri():
    """Unknown URI schemes are rejected with the supported list."""
    with pytest.raises(ConfigError, match="unsupported URI"):
        resolve_target(path="ftp://host/table")


def test_object_store_uris_are_remote_targets():
    """wasbs://, s3a:// and gs:// are remote path targets (Spark only); abfss:// and s3:// are
    reachable by delta-rs too."""
    for uri in ("wasbs://c@a.blob.core.windows.net/t", "s3a://b/t", "gs://b/t"):
        t = resolve_target(path=uri, runtime="local")
        assert (t.kind, t.location, t.local_path, t.remote) == ("path", uri, None, True)
        assert not rs_reachable(t)
    for uri in ("abfss://c@a.dfs.core.windows.net/t", "s3://b/t"):
        assert rs_reachable(resolve_target(path=uri, runtime="local"))


def test_quarantine_defaults_next_to_the_target_for_both_writers():
    """By default the quarantine table is the target's name plus _quarantine, for Spark's
    location and for delta-rs' local path alike."""
    t = resolve_target(path="/lakehouse/default/Tables/logs", runtime="fabric", has_spark=True)
    assert t.quarantine == "Tables/logs_quarantine"
    assert t.quarantine_local == "/lakehouse/default/Tables/logs_quarantine"
    t = resolve_target(table="main.ops.logs", runtime="databricks", has_spark=True)
    assert (t.quarantine, t.quarantine_local) == ("main.ops.logs_quarantine", None)


def test_quarantine_option_resolves_like_a_target():
    """quarantine= is resolved with the target rules: local paths, remote paths and tables."""
    local = resolve_target(path="/data/logs", runtime="local")
    q = with_quarantine(local, "rejects", runtime="local", has_spark=False)
    assert q.quarantine_local == q.quarantine and q.quarantine.endswith("/rejects")
    remote = resolve_target(
        path="abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Tables/l"
    )
    q = with_quarantine(remote, remote.location + "_bad", runtime="fabric", has_spark=True)
    assert q.quarantine == remote.location + "_bad" and q.quarantine_local is None
    table = resolve_target(table="main.ops.logs", runtime="databricks", has_spark=True)
    q = with_quarantine(table, "main.ops.rejects", runtime="databricks", has_spark=True)
    assert (q.quarantine, q.location) == ("main.ops.rejects", "main.ops.logs")
    with pytest.raises(ConfigError, match="not a table name"):
        with_quarantine(table, "bad name!", runtime="databricks", has_spark=True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", "is empty"), ("   ", "is empty"), ("/t\x00x", "NUL"), ("http://h/t", "unsupported URI")],
)
def test_check_path_refuses_what_resolve_target_refuses(path, expected):
    """check_path (used at get_logger time) refuses the paths the flush would refuse."""
    with pytest.raises(ConfigError, match=expected):
        check_path(path)
    with pytest.raises(ConfigError, match=expected):
        resolve_target(path=path)


@pytest.mark.parametrize("name", ["bad name!", "", " ", "a.b.c.d", "x;drop", 3])
def test_check_table_refuses_what_resolve_target_refuses(name):
    """check_table refuses malformed names with the accepted forms, like resolve_target."""
    with pytest.raises(ConfigError, match="table"):
        check_table(name)
    with pytest.raises(ConfigError):
        resolve_target(table=name, has_spark=True)  # type: ignore[arg-type]


def test_check_accepts_every_documented_form():
    """Documented paths and table names pass the spelling checks unchanged."""
    for p in ("/data/logs", "rel/t", "dbfs:/logs", "abfss://ws@onelake.dfs.fabric.microsoft.com/x"):
        assert check_path(p) == p
    for t in ("logs", "ops.logs", "main.ops.logs", "`odd name`", " padded "):
        assert check_table(t) == t.strip()


def test_quarantine_option_keeps_the_target_kind():
    """A table target's quarantine stays a catalog table (even a bare name on Fabric), a
    relative path is left to Spark, and a quarantine no delta-rs path reaches is refused
    without Spark (an object-store URI is reached with storage_options)."""
    table = resolve_target(table="lh.logs", runtime="fabric", has_spark=True)
    q = with_quarantine(table, "rejects", runtime="fabric", has_spark=True)
    assert (q.kind, q.quarantine, q.quarantine_local) == ("table", "rejects", None)
    fabric = resolve_target(path="/lakehouse/default/Tables/logs", runtime="fabric", has_spark=True)
    q = with_quarantine(fabric, "Tables/rejects", runtime="fabric", has_spark=True)
    assert q.quarantine == "Tables/rejects"
    local = resolve_target(path="/data/logs", runtime="local")
    with pytest.raises(ConfigError, match="needs Spark"):
        with_quarantine(local, "dbfs:/q", runtime="local", has_spark=False)
    q = with_quarantine(
        local, "abfss://c@a.dfs.core.windows.net/q", runtime="local", has_spark=False
    )
    assert q.quarantine == "abfss://c@a.dfs.core.windows.net/q"
