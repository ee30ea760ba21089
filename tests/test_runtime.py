"""Runtime detection: environment, files and Spark confs, without importing pyspark."""

from __future__ import annotations

import subprocess
import sys

import pytest

from laketrace import runtime


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABRICKS_RUNTIME_VERSION": "15.4"}, "databricks"),
        ({"FABRIC_RUNTIME_VERSION": "1.3"}, "fabric"),
        ({"AZURE_SYNAPSE_WORKSPACE_NAME": "ws"}, "synapse"),
        ({"LAKETRACE_RUNTIME": "fabric", "DATABRICKS_RUNTIME_VERSION": "15.4"}, "fabric"),
        ({}, "local"),
    ],
)
def test_detect_from_environment(env, expected):
    """The environment decides the runtime; LAKETRACE_RUNTIME overrides everything."""
    assert runtime.detect_runtime(environ=env, probe_spark=False) == expected


class _Conf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class _FakeSC:
    def __init__(self, values):
        self._conf = _Conf(values)
        self.applicationId = "app-20261128-0001"
        self.appName = "nightly"

    def getConf(self):
        return self._conf


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"spark.databricks.clusterUsageTags.clusterId": "0101-abc"}, "databricks"),
        ({"trident.workspace.id": "ws-guid"}, "fabric"),
        ({"spark.synapse.workspace.name": "syn"}, "synapse"),
        ({}, "local"),
    ],
)
def test_detect_from_spark_conf(monkeypatch, conf, expected):
    """With an active SparkContext, platform Spark confs decide the runtime."""
    monkeypatch.setattr(runtime, "active_spark_context", lambda: _FakeSC(conf))
    assert runtime.detect_runtime(environ={}, probe_spark=True) == expected


def test_spark_app_identity(monkeypatch):
    """spark_app returns the active application's id and name."""
    app = runtime.spark_app(_FakeSC({}))
    assert (app.app_id, app.app_name) == ("app-20261128-0001", "nightly")
    monkeypatch.setattr(runtime, "active_spark_context", lambda: None)
    assert runtime.spark_app(None) == runtime.SparkApp(None, None)


def test_records_pick_up_spark_app(monkeypatch, make_logger, log_dir):
    """Records carry app_id/app_name when a SparkContext is active."""
    from .conftest import spool_records

    monkeypatch.setattr(runtime, "active_spark_context", lambda: _FakeSC({}))
    log = make_logger()
    log.info("with spark")
    log.close()
    rec = spool_records(log_dir)[0]
    assert (rec["app_id"], rec["app_name"]) == ("app-20261128-0001", "nightly")


def test_detection_never_imports_pyspark():
    """Importing laketrace, detecting the runtime and logging never import pyspark."""
    code = (
        "import sys, laketrace, tempfile\n"
        "laketrace.runtime.detect_runtime()\n"
        "log = laketrace.get_logger('x', {'log_dir': tempfile.mkdtemp(), 'stdout': False})\n"
        "log.info('hi'); log.close()\n"
        "assert not [m for m in sys.modules if m.startswith('pyspark')], 'pyspark imported'\n"
        "assert not [m for m in sys.modules if m.startswith(('http', 'urllib.request'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_id_is_stable_and_overridable(monkeypatch):
    """run_id is decided once per process; LAKETRACE_RUN_ID sets it."""
    runtime.set_run_id(None)
    monkeypatch.setenv("LAKETRACE_RUN_ID", "my-run")
    assert runtime.run_id() == "my-run"
    monkeypatch.delenv("LAKETRACE_RUN_ID")
    assert runtime.run_id() == "my-run"
    runtime.set_run_id(None)
    rid = runtime.run_id()
    assert rid.startswith("local-") and runtime.run_id() == rid
