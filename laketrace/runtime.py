"""Where are we running? Databricks, Fabric, Synapse or plain local.

Detection reads environment variables, a few well-known files and (only when a
SparkContext is already active in this process) Spark confs. It never imports
pyspark, never blocks and never touches the network. Set ``LAKETRACE_RUNTIME`` to
override it.

>>> from laketrace import runtime
>>> runtime.detect_runtime(environ={"DATABRICKS_RUNTIME_VERSION": "15.4"}, probe_spark=False)
'databricks'
"""

from __future__ import annotations

import enum
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Runtime = Literal["databricks", "fabric", "synapse", "local"]
RUNTIMES: tuple[str, ...] = ("databricks", "fabric", "synapse", "local")

_DATABRICKS_ENV = ("DATABRICKS_RUNTIME_VERSION",)
_DATABRICKS_FILES = ("/databricks/DBR_VERSION",)
_DATABRICKS_CONF = "spark.databricks.clusterUsageTags.clusterId"
_FABRIC_CONF = ("trident.workspace.id", "trident.artifact.type", "trident.lakehouse.name")
_FABRIC_ENV = (
    "FABRIC_RUNTIME_VERSION",
    "TRIDENT_RUNTIME_VERSION",
    "FABRIC_WORKSPACE_ID",
    "FABRIC_LAKEHOUSE_ID",
    "FABRIC_JOB_ID",
)
_SYNAPSE_CONF = ("spark.synapse.workspace.name", "spark.synapse.pool.name")
_SYNAPSE_ENV = ("AZURE_SYNAPSE_WORKSPACE_NAME", "SYNAPSE_WORKSPACE_NAME")
#: run id sources in the environment, in lookup order (LakeTrace, then LakeTrace 1.x's)
RUN_ID_ENV = ("LAKETRACE_RUN_ID", "LAKEHOUSE_CONTEXT_RUN_ID", "FABRIC_RUN_ID")

# Spark local properties LakeTrace reads or sets. The JVM listener
# (spark_listener/jvm/.../LakeTraceListener.java) reads the same keys; a test checks it.
PROP_JOB_GROUP = "spark.jobGroup.id"
PROP_JOB_DESCRIPTION = "spark.job.description"
PROP_INTERRUPT_ON_CANCEL = "spark.job.interruptOnCancel"
PROP_SQL_EXECUTION_ID = "spark.sql.execution.id"
#: where Databricks and Fabric/Synapse put the notebook path or name, in lookup order
PROP_NOTEBOOK = ("spark.databricks.notebook.path", "spark.synapse.context.notebookname")
CONF_MAX_RESULT_SIZE = "spark.driver.maxResultSize"
#: the job group of LakeTrace's own flush jobs: the listener ignores them (no flush loops)
FLUSH_JOB_GROUP = "laketrace-flush"


def active_spark_context() -> Any | None:
    """The active `SparkContext` if pyspark is already imported and one is running, else None.

    Never imports pyspark: a process that never used Spark pays nothing.
    """
    mod = sys.modules.get("pyspark.context") or sys.modules.get("pyspark.core.context")
    if mod is None:
        return None
    cls = getattr(mod, "SparkContext", None)
    return getattr(cls, "_active_spark_context", None) if cls is not None else None


def _spark_conf(keys: tuple[str, ...]) -> dict[str, str]:
    sc = active_spark_context()
    if sc is None:
        return {}
    out: dict[str, str] = {}
    try:
        conf = sc.getConf()
        for key in keys:
            value = conf.get(key, None)
            if value:
                out[key] = value
    except Exception:  # a dying context must not break logging
        return {}
    return out


def detect_runtime(
    *, environ: Mapping[str, str] | None = None, probe_spark: bool = True
) -> Runtime:
    """Return ``"databricks"``, ``"fabric"``, ``"synapse"`` or ``"local"``."""
    env = os.environ if environ is None else environ
    forced = env.get("LAKETRACE_RUNTIME", "").strip().lower()
    if forced in RUNTIMES:
        return forced  # type: ignore[return-value]
    if any(env.get(k) for k in _DATABRICKS_ENV):
        return "databricks"
    if any(env.get(k) for k in _FABRIC_ENV):
        return "fabric"
    if any(env.get(k) for k in _SYNAPSE_ENV):
        return "synapse"
    if environ is None and any(os.path.exists(p) for p in _DATABRICKS_FILES):
        return "databricks"
    if probe_spark:
        conf = _spark_conf((_DATABRICKS_CONF, *_FABRIC_CONF, *_SYNAPSE_CONF))
        if _DATABRICKS_CONF in conf:
            return "databricks"
        if any(k in conf for k in _FABRIC_CONF):
            return "fabric"
        if any(k in conf for k in _SYNAPSE_CONF):
            return "synapse"
    return "local"


class RuntimePlatform(str, enum.Enum):
    """The platform, as LakeTrace 1.x's ``detect_runtime().platform`` spelled it; each member
    equals today's runtime string (``RuntimePlatform.FABRIC == "fabric"``)."""

    FABRIC = "fabric"
    DATABRICKS = "databricks"
    SYNAPSE = "synapse"
    LOCAL = "local"

    def __str__(self) -> str:  # f"{info.platform}" prints "fabric", as the string did
        return str(self.value)


class RuntimeType(str, enum.Enum):
    """How the code runs: a notebook, a scheduled job, or a plain script."""

    NOTEBOOK = "notebook"
    JOB = "job"
    SCRIPT = "script"

    def __str__(self) -> str:
        return str(self.value)


_JOB_ENV = ("DB_JOB_ID", "DB_JOB_RUN_ID", "FABRIC_JOB_ID")
_NOTEBOOK_ENV = ("DATABRICKS_SOURCE_CODE_CELL_FILENAME", "SYNAPSE_COMPUTATION_ENDPOINT_HOSTNAME")
#: metadata keys and the environment variables they are read from, per platform
_METADATA_ENV = {
    "fabric": (
        ("workspace_id", "FABRIC_WORKSPACE_ID"),
        ("lakehouse_id", "FABRIC_LAKEHOUSE_ID"),
        ("runtime_version", "FABRIC_RUNTIME_VERSION"),
        ("job_id", "FABRIC_JOB_ID"),
    ),
    "synapse": (
        ("workspace_name", "SYNAPSE_WORKSPACE_NAME"),
        ("workspace_name", "AZURE_SYNAPSE_WORKSPACE_NAME"),
    ),
    "databricks": (
        ("runtime_version", "DATABRICKS_RUNTIME_VERSION"),
        ("cluster_id", "DB_CLUSTER_ID"),
        ("job_id", "DB_JOB_ID"),
        ("job_run_id", "DB_JOB_RUN_ID"),
    ),
}


class RuntimeInfo(str):
    """The runtime string (``"fabric"``, ``"databricks"``, ``"synapse"``, ``"local"``) with
    LakeTrace 1.x's details: ``platform`` (a `RuntimePlatform`), ``runtime_type`` (a
    `RuntimeType`), ``metadata`` (a dict), ``hostname``, ``pid`` and ``run_id``.

    It *is* the string, so ``laketrace.detect_runtime() == "fabric"`` and code that used the
    plain string keeps working.

    >>> info = describe_runtime(environ={"FABRIC_WORKSPACE_ID": "ws1"}, probe_spark=False)
    >>> info == "fabric", info.platform.value, info.metadata["workspace_id"]
    (True, 'fabric', 'ws1')
    """

    __slots__ = ("hostname", "metadata", "pid", "platform", "run_id", "runtime_type")
    platform: RuntimePlatform
    runtime_type: RuntimeType
    metadata: dict[str, Any]
    hostname: str
    pid: int
    run_id: str

    def __new__(
        cls, platform: RuntimePlatform, runtime_type: RuntimeType, metadata: dict[str, Any]
    ) -> RuntimeInfo:
        self = super().__new__(cls, platform.value)
        self.platform, self.runtime_type, self.metadata = platform, runtime_type, metadata
        self.hostname, self.pid, self.run_id = _HOST, os.getpid(), run_id()
        return self

    def __reduce__(self) -> tuple:
        return (_rebuild_info, (self.platform.value, self.runtime_type.value, self.metadata))

    def __repr__(self) -> str:
        return (
            f"RuntimeInfo(platform={self.platform.value!r}, "
            f"runtime_type={self.runtime_type.value!r}, metadata={self.metadata!r})"
        )


def _rebuild_info(platform: str, runtime_type: str, metadata: dict[str, Any]) -> RuntimeInfo:
    return RuntimeInfo(RuntimePlatform(platform), RuntimeType(runtime_type), metadata)


def _runtime_type(env: Mapping[str, str]) -> RuntimeType:
    if any(env.get(k) for k in _JOB_ENV):
        return RuntimeType.JOB
    if any(env.get(k) for k in _NOTEBOOK_ENV) or "ipykernel" in sys.modules:
        return RuntimeType.NOTEBOOK
    return RuntimeType.SCRIPT


def describe_runtime(
    *, environ: Mapping[str, str] | None = None, probe_spark: bool = True
) -> RuntimeInfo:
    """`detect_runtime` with details: platform, notebook/job/script and platform metadata.

    Exported as ``laketrace.detect_runtime``. Reads only the environment, ``sys.modules``
    and (when a SparkContext is already active) its confs: it never imports anything, never
    blocks and arms no signal handler or timer.
    """
    env = os.environ if environ is None else environ
    name = detect_runtime(environ=environ, probe_spark=probe_spark)
    platform = RuntimePlatform(name)
    meta: dict[str, Any] = {"platform": name, "hostname": _HOST, "pid": os.getpid()}
    for key, var in _METADATA_ENV.get(name, ()):
        if env.get(var) and key not in meta:
            meta[key] = env[var]
    if probe_spark:
        app = spark_app()
        if app.app_id is not None:
            meta["spark_app_id"], meta["spark_app_name"] = app.app_id, app.app_name
    return RuntimeInfo(platform, _runtime_type(env), meta)


@dataclass(frozen=True)
class SparkApp:
    """Identity of the active Spark application."""

    app_id: str | None
    app_name: str | None


def spark_app(sc: Any | None = None) -> SparkApp:
    """App id and name of the active SparkContext (``SparkApp(None, None)`` without one)."""
    sc = sc if sc is not None else active_spark_context()
    if sc is None:
        return SparkApp(None, None)
    try:
        return SparkApp(sc.applicationId, sc.appName)
    except Exception:
        return SparkApp(None, None)


_run_lock = threading.Lock()
_run_id: str | None = None


def new_run_id(now: float | None = None) -> str:
    """A fresh run id: ``local-YYYYmmddTHHMMSSZ-<8 hex>``."""
    t = time.gmtime(time.time() if now is None else now)
    return f"local-{time.strftime('%Y%m%dT%H%M%SZ', t)}-{uuid.uuid4().hex[:8]}"


def run_id() -> str:
    """This driver run's id: the first of `RUN_ID_ENV` that is set, else the Spark app id if
    Spark is active at first use, else a new id.

    Decided once per process and kept, so records of one run share it even if a
    SparkSession starts later (``app_id`` is still filled then).
    """
    global _run_id
    if _run_id is None:
        with _run_lock:
            if _run_id is None:
                env = next((v for k in RUN_ID_ENV if (v := os.environ.get(k, "").strip())), None)
                _run_id = env or spark_app().app_id or new_run_id()
    return _run_id


def set_run_id(value: str | None) -> None:
    """Force the process run id (``None`` makes the next `run_id` call decide again)."""
    global _run_id
    with _run_lock:
        _run_id = value


def hostname() -> str:
    """This host's name (cached)."""
    return _HOST


_HOST = socket.gethostname()


def is_connect_session(spark: Any = None) -> bool:
    """True when ``spark`` (or, without one, the current pyspark) is a Spark Connect client.

    On Connect there is no SparkContext, py4j or accumulator from Python.
    """
    if spark is not None and type(spark).__module__.startswith("pyspark.sql.connect"):
        return True
    if "pyspark" not in sys.modules:
        return False
    try:
        from pyspark.sql.utils import is_remote

        return bool(is_remote())
    except Exception:
        return False


def default_log_dir(runtime: str) -> str:
    """Where the spool lives when ``log_dir`` is not given (always a local disk)."""
    env = os.environ.get("LAKETRACE_LOG_DIR")
    if env:
        return env
    if runtime == "databricks" and os.path.isdir("/local_disk0"):
        return "/local_disk0/laketrace/spool"
    if runtime in ("fabric", "synapse"):
        return os.path.join(tempfile.gettempdir(), "laketrace", "spool")
    return os.path.join(os.getcwd(), ".laketrace", "spool")


def in_spark_task() -> bool:
    """True inside a Spark task (a Python worker), without importing pyspark."""
    mod = sys.modules.get("pyspark.taskcontext")
    if mod is None:
        return False
    try:
        return mod.TaskContext.get() is not None
    except Exception:
        return False
