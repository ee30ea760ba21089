"""Where the flush step writes: local paths, OneLake, DBFS, Unity Catalog volumes and tables.

`resolve_target` turns what the user configured (``path=`` or ``table=``) into a
`Target` for the runtime at hand. It only computes names; it never touches storage.

>>> from laketrace.targets import resolve_target
>>> resolve_target(path="./lakehouse/logs", runtime="local", cwd="/work").location
'/work/lakehouse/logs'
>>> t = resolve_target(table="main.ops.app_logs", runtime="databricks", has_spark=True)
>>> (t.kind, t.location)
('table', 'main.ops.app_logs')
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigError

DEFAULT_LOCAL_PATH = os.path.join("lakehouse", "laketrace_logs")

_ONELAKE = re.compile(
    r"^abfss://(?P<ws>[^@/]+)@onelake\.dfs\.fabric\.microsoft\.com/"
    r"(?P<item>[^/]+?)(?:\.Lakehouse)?/Tables/(?P<rest>.+)$",
    re.I,
)
_FABRIC_MOUNT = re.compile(r"^/lakehouse/default/Tables/(?P<name>[^/]+(?:/[^/]+)?)/?$")
_VOLUME = re.compile(r"^/Volumes/(?P<catalog>[^/]+)/(?P<schema>[^/]+)/(?P<volume>[^/]+)(/.*)?$")
_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_\-]*)"
_TABLE_NAME = re.compile(rf"^{_IDENT}(?:\.{_IDENT}){{0,2}}$")


@dataclass(frozen=True)
class Target:
    """A resolved flush target.

    ``kind`` is ``"path"`` (a Delta table at a location) or ``"table"`` (a catalog table).
    ``location`` is what Spark uses; ``local_path`` is what delta-rs may use without a JVM
    (None when only Spark can reach it); ``quarantine`` and ``quarantine_local`` are the
    same two names of the quarantine table (by default next to the target, with the
    suffix ``_quarantine``; see `with_quarantine`). Both writers use exactly these.
    """

    kind: Literal["path", "table"]
    location: str
    local_path: str | None
    quarantine: str
    display: str
    remote: bool = False
    quarantine_local: str | None = None

    @property
    def key(self) -> str:
        """A stable short id of the physical table (flush manifest and txn app ids).

        Spark's and delta-rs's names for one table (``Tables/x`` and the Fabric mount,
        ``dbfs:/x`` and ``/dbfs/x``) share the key, so both writers continue one sequence.
        """
        canonical = self.local_path or self.location
        return hashlib.sha1(f"{self.kind}:{canonical}".encode()).hexdigest()[:12]


_URI_FORMS = (
    "a local path, abfss://...onelake..., dbfs:/..., /Volumes/<catalog>/<schema>/<volume>/..., "
    "an object-store URI (abfss://, s3://; wasbs://, s3a://, gs:// with Spark) "
    "or table='catalog.schema.t'"
)
#: object-store URI schemes a path target may use (delta-rs reaches `_RS_SCHEMES`)
_REMOTE_SCHEMES = ("abfss://", "abfs://", "wasbs://", "wasb://", "s3://", "s3a://", "gs://")
_RS_SCHEMES = ("abfss://", "s3://")
_TABLE_FORMS = (
    "'catalog.schema.table', 'schema.table' or 'table' (letters, digits, _ and -; quote "
    "others with backticks), or pass path= for a location"
)


def check_path(path: object, *, what: str = "flush target path=") -> str:
    """``path`` as text if it can name a Delta table location, else `ConfigError`.

    Only the spelling is checked (the same rules `resolve_target` applies at flush time), so
    a bad path fails when it is configured, not at the first flush.

    >>> check_path("/data/logs")
    '/data/logs'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{what} expected a path string, got {path!r}.")
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{what} {text!r} is empty; give a directory for the Delta table.")
    if "\x00" in text:
        raise ConfigError(f"{what} {text!r} contains a NUL character; give {_URI_FORMS}.")
    low = text.lower()
    if "://" in text and not low.startswith((*_REMOTE_SCHEMES, "dbfs:/")):
        raise ConfigError(f"{what} unsupported URI {text!r}. Use {_URI_FORMS}.")
    return text


def check_table(name: object, *, what: str = "flush target table=") -> str:
    """``name`` (stripped) if it is a table name `resolve_target` accepts, else `ConfigError`.

    >>> check_table("main.ops.app_logs")
    'main.ops.app_logs'
    """
    if not isinstance(name, str):
        raise ConfigError(f"{what} expected a table name string, got {name!r}.")
    text = name.strip()
    if not _TABLE_NAME.match(text):
        raise ConfigError(f"{what} {name!r} is not a table name. Use {_TABLE_FORMS}.")
    return text


def _quarantine_for(kind: str, location: str) -> str:
    if kind == "table":
        return location.rstrip("`") + "_quarantine" + ("`" if location.endswith("`") else "")
    return location.rstrip("/") + "_quarantine"


def _path_target(location: str, local: str | None, display: str, remote: bool) -> Target:
    q_local = _quarantine_for("path", local) if local is not None else None
    q = _quarantine_for("path", location)
    return Target("path", location, local, q, display, remote, q_local)


def with_quarantine(
    target: Target, quarantine: str | os.PathLike[str] | None, *, runtime: str, has_spark: bool
) -> Target:
    """``target`` with its quarantine table at ``quarantine`` (resolved like a target).

    A path target takes a path (local, OneLake, ``dbfs:/``, a volume), a table target a
    table name. ``None`` keeps the default next to the target.

    >>> t = resolve_target(path="/data/logs", runtime="local")
    >>> with_quarantine(t, "/data/bad", runtime="local", has_spark=False).quarantine_local
    '/data/bad'
    """
    if quarantine is None:
        return target
    if target.kind == "table":  # a catalog table's quarantine is a catalog table too
        name = check_table(quarantine, what="flush quarantine=")
        return dataclasses.replace(target, quarantine=name, quarantine_local=None)
    text = check_path(quarantine, what="flush quarantine=")
    q = resolve_target(path=text, runtime=runtime, has_spark=has_spark)
    if has_spark and not os.path.isabs(text) and "://" not in text and ":/" not in text:
        # Spark resolves a relative location itself (e.g. Fabric's Tables/<name>)
        return dataclasses.replace(target, quarantine=text, quarantine_local=None)
    if not has_spark and q.local_path is None and not rs_reachable(q):
        raise ConfigError(
            f"flush quarantine={text!r} needs Spark (no local path reaches it without one): "
            "give a local quarantine path, or pass a SparkSession to flush_to_delta."
        )
    return dataclasses.replace(target, quarantine=q.location, quarantine_local=q.local_path)


def rs_reachable(target: Target) -> bool:
    """Whether delta-rs can open ``target`` without Spark: a local path, or an object-store
    URI (``abfss://``, ``s3://``; credentials in ``storage_options``)."""
    loc = (target.local_path or target.location).lower()
    return target.kind == "path" and (target.local_path is not None or loc.startswith(_RS_SCHEMES))


def resolve_target(
    *,
    path: str | os.PathLike[str] | None = None,
    table: str | None = None,
    runtime: str = "local",
    has_spark: bool = False,
    cwd: str | None = None,
) -> Target:
    """Resolve the configured flush target for ``runtime``.

    * a local path (relative paths are made absolute);
    * ``abfss://<ws>@onelake.dfs.fabric.microsoft.com/<lakehouse>.Lakehouse/Tables/<name>``
      (OneLake; Spark, or delta-rs with credentials);
    * ``/lakehouse/default/Tables/<name>`` (Fabric's default-lakehouse mount: Spark writes
      ``Tables/<name>``, delta-rs the mount);
    * ``dbfs:/...`` (Spark; delta-rs through the ``/dbfs`` mount on Databricks);
    * ``/Volumes/<catalog>/<schema>/<volume>/...`` (path-based Delta in a UC volume);
    * ``catalog.schema.table`` (a catalog table; needs Spark). A bare name with no dots
      goes to the platform default: the current catalog/schema on Databricks, the default
      lakehouse's ``Tables/`` on Fabric, and ``./lakehouse/<name>`` without Spark.
    """
    if path is not None and table is not None:
        raise ConfigError(
            "flush target: give either path= (a Delta table location) or table= (a catalog "
            "table name), not both."
        )
    base = cwd or os.getcwd()
    if path is None and table is None:
        return _path_target(
            os.path.join(base, DEFAULT_LOCAL_PATH),
            os.path.join(base, DEFAULT_LOCAL_PATH),
            f"./{DEFAULT_LOCAL_PATH} (default)",
            False,
        )
    if table is not None:
        return _resolve_table(check_table(table), runtime, has_spark, base)
    text = check_path(path)
    m = _ONELAKE.match(text)
    if m:
        return _path_target(text.rstrip("/"), None, text, True)
    if text.lower().startswith(_REMOTE_SCHEMES):
        return _path_target(text.rstrip("/"), None, text, True)
    m = _FABRIC_MOUNT.match(text)
    if m:
        spark_loc = f"Tables/{m.group('name')}" if runtime == "fabric" and has_spark else text
        return _path_target(spark_loc, text.rstrip("/"), text, runtime == "fabric")
    if text.startswith("dbfs:/"):
        fuse = "/dbfs/" + text[len("dbfs:/") :].lstrip("/")
        local = fuse if runtime == "databricks" else None
        return _path_target(text.rstrip("/"), local, text, True)
    if _VOLUME.match(text):
        return _path_target(text.rstrip("/"), text.rstrip("/"), text, runtime == "databricks")
    absolute = os.path.abspath(os.path.join(base, os.path.expanduser(text)))
    return _path_target(absolute, absolute, text, False)


def _resolve_table(name: str, runtime: str, has_spark: bool, base: str) -> Target:
    if "." not in name.replace("`", ""):
        if runtime == "fabric":
            loc = f"Tables/{name.strip('`')}"
            mount = f"/lakehouse/default/Tables/{name.strip('`')}"
            if has_spark:
                return _path_target(loc, mount, f"{name} (Fabric default lakehouse)", True)
            return _path_target(mount, mount, f"{name} (Fabric default lakehouse)", True)
        if not has_spark:
            local = os.path.join(base, "lakehouse", name.strip("`"))
            return _path_target(local, local, f"{name} (./lakehouse, no Spark)", False)
    if not has_spark:
        raise ConfigError(
            f"flush target table={name!r} is a catalog table and needs Spark: call "
            "flush_to_delta(spark, table=...) with a SparkSession, or pass path= (a Delta "
            "location) to flush with delta-rs (pip install 'laketrace[delta]')."
        )
    return Target("table", name, None, _quarantine_for("table", name), name, True)
