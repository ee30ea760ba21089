"""`LakeTraceLogger.upload_log_to_lakehouse` (LakeTrace 1.x): this run's records of one
logger copied into a single JSON-lines file in a lakehouse, once, at the end of a run.

Where ``target_path`` goes:

- ``file:/...`` and plain paths: a local path (relative to the working directory), except:
- Fabric/Synapse: ``Files/...`` or ``/Files/...`` is in the default lakehouse: through its
  mount (``/lakehouse/default/Files/...``) when present, else ``notebookutils.fs.put``;
- Databricks: a relative path is ``dbfs:/<path>`` (as in 1.x); ``/Volumes/...`` and
  ``/dbfs/...`` are local (FUSE) paths;
- a URI (``abfss://``, ``dbfs:/``, ...): ``notebookutils.fs.put`` or ``dbutils.fs.put``.

Local paths are written under a temp name in the same directory and renamed over the
target; remote paths get one ``put(path, text, overwrite=True)``. Nothing is ever appended
to a remote file. Each failure is retried ``max_retries`` times; then one WARNING record
says why and the call returns False: it never raises into the notebook.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..sinks.lifecycle import maintenance
from ..spool.names import list_spool, safe_name
from ..spool.read import DAMAGE_ERRORS, iter_lines

#: where Fabric mounts the notebook's default lakehouse
LAKEHOUSE_MOUNT = "/lakehouse/default"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def collect_lines(log_dir: str, logger_name: str, run_id: str) -> list[bytes]:
    """Every complete record line of ``logger_name``'s spool files of run ``run_id``, oldest
    file first (sealed, compressed and active files; a torn last line is left out)."""
    run = safe_name(run_id, limit=120)
    maintenance.drain(timeout=30)  # let compression of just-sealed files finish first
    out: list[bytes] = []
    for _attempt in range(3):
        out, moved = [], False
        for path, name in list_spool(log_dir, logger=logger_name):
            if name.run_id != run:
                continue
            try:
                for _, raw in iter_lines(path):
                    if raw.endswith(b"\n") and _is_record(raw):
                        out.append(raw)
            except FileNotFoundError:
                moved = True  # compressed or sealed meanwhile: list again
                break
            except DAMAGE_ERRORS:
                continue  # damaged: the rest still goes
        if not moved:
            break
    return out


def _is_record(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def fs_utils(runtime: str) -> Any:
    """``notebookutils.fs`` (Fabric, Synapse) or ``dbutils.fs`` (Databricks), or None."""
    main = sys.modules.get("__main__")
    fabric = sys.modules.get("notebookutils")
    if fabric is None and runtime in ("fabric", "synapse"):
        try:
            import notebookutils as fabric  # type: ignore[import-not-found,no-redef]
        except Exception:
            fabric = None
    dbutils = getattr(main, "dbutils", None)
    if dbutils is None and runtime == "databricks" and "pyspark" in sys.modules:
        try:
            from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]
            from pyspark.sql import SparkSession

            dbutils = DBUtils(SparkSession.getActiveSession())
        except Exception:
            dbutils = None
    order = (dbutils, fabric) if runtime == "databricks" else (fabric, dbutils)
    for utils in order:
        fs = getattr(utils, "fs", None)
        if fs is not None:
            return fs
    return None


def resolve(target: str, runtime: str) -> tuple[str, str]:
    """``("local", path)`` or ``("remote", uri)`` for ``target`` on ``runtime``."""
    if target.startswith("file:"):
        return "local", re.sub(r"^file:(//)?", "", target)
    if runtime in ("fabric", "synapse") and re.match(r"^/?Files(/|$)", target):
        rel = target.lstrip("/")
        if os.path.isdir(os.path.join(LAKEHOUSE_MOUNT, "Files")):
            return "local", os.path.join(LAKEHOUSE_MOUNT, rel)
        return "remote", rel
    if _URI.match(target):
        return "remote", target
    if runtime == "databricks" and not os.path.isabs(target):
        return "remote", "dbfs:/" + (target[2:] if target.startswith("./") else target)
    return "local", target


def write_local(path: str, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` whole: a temp file in the same directory, renamed over it."""
    path = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def upload_log(
    logger: Any,
    target_path: Any,
    *,
    max_retries: Any = 2,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """The body of ``upload_log_to_lakehouse`` (see the module docstring)."""
    try:
        return _upload(logger, target_path, max_retries, sleep)
    except Exception as exc:  # an end-of-run upload never breaks the notebook
        logger.warning("LakeTrace: upload of the log to {!r} failed: {!r}.", target_path, exc)
        return False


def _upload(logger: Any, target: Any, max_retries: Any, sleep: Callable[[float], None]) -> bool:
    core = logger._core
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"target_path must be a non-empty path string, got {target!r}")
    retries = max_retries if isinstance(max_retries, int) and max_retries >= 0 else 2
    if core.config.log_dir is None:
        logger.warning(
            "LakeTrace: upload to {!r} skipped: logger {!r} has log_dir=None, so it keeps no "
            "records to upload.",
            target,
            logger.name,
        )
        return False
    logger.flush()
    spool_name = core.redact(core.name) if core.redact is not None else core.name
    lines = collect_lines(core.config.log_dir, spool_name, core.run_id)
    if not lines:
        logger.warning("LakeTrace: upload to {!r} skipped: this run has no records.", target)
        return False
    kind, where = resolve(target, core.runtime)
    data = b"".join(lines)
    fs = fs_utils(core.runtime) if kind == "remote" else None
    if kind == "remote" and fs is None:
        logger.warning(
            "LakeTrace: upload to {!r} failed: neither notebookutils.fs nor dbutils.fs is "
            "available here to reach {!r}. Give a local or mounted path instead.",
            target,
            where,
        )
        return False
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            if fs is not None:
                fs.put(where, data.decode("utf-8", "replace"), True)
            else:
                write_local(where, data, core.config.handler.file_mode)
            logger.info("LakeTrace: uploaded {} records to {}", len(lines), where)
            return True
        except Exception as exc:
            last = exc
            if attempt < retries:
                sleep(min(0.5 * 2**attempt, 5.0))
    logger.warning(
        "LakeTrace: upload of {} records to {!r} failed after {} attempt(s): {!r}. The records "
        "stay in the spool ({}).",
        len(lines),
        where,
        retries + 1,
        last,
        core.config.log_dir,
    )
    return False


__all__ = ["LAKEHOUSE_MOUNT", "collect_lines", "fs_utils", "resolve", "upload_log", "write_local"]
