"""Spark's own driver log in the spool: the JVM log4j2 appender of the listener jar.

`attach` loads ``io.laketrace.LakeTraceAppender`` from the jar into the driver JVM and adds
it to the root logger at the chosen level; from then on Spark's log events become
``source="spark"`` lake records written by the JVM itself into the logger's spool
directory (files named ``<logger>~spark__...``), with no py4j call per event. The handle
seals its file before every flush and detaches it at ``uninstall()``/``spark.stop()``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from laketrace import LakeTraceLogger, runtime
from laketrace.errors import ConfigError
from laketrace.log import CompanionFiles
from laketrace.spool.names import safe_name

JAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jvm", "laketrace-listener.jar")
#: the suffix of the appender's spool files' logger part (``etl`` -> ``etl~spark__...``)
SUFFIX = "spark"
#: accepted ``spark_logs`` values -> the log4j level name
LEVELS = {
    "TRACE": "TRACE",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "FATAL": "FATAL",
    "CRITICAL": "FATAL",
}
#: at most this many events per logger and message template in `RATE_WINDOW_SECONDS`
DEFAULT_LIMIT = 100
RATE_WINDOW_SECONDS = 60.0
#: events the appender holds for its writer thread; more are dropped (and counted)
QUEUE_CAPACITY = 10_000

_loaders: dict[int, Any] = {}


def parse_spark_logs(value: object) -> str | None:
    """The log4j level name for ``spark_logs`` (None or False: off).

    >>> parse_spark_logs("warning"), parse_spark_logs(None)
    ('WARN', None)
    """
    if value is None or value is False:
        return None
    if isinstance(value, str) and value.strip().upper() in LEVELS:
        return LEVELS[value.strip().upper()]
    raise ConfigError(
        f"spark_listener.install: spark_logs={value!r} is not a level. Expected one of "
        f"{sorted(LEVELS)} (Spark's driver log events at that level and above become "
        "source='spark' records), or None/False to leave Spark's log out."
    )


def parse_limit(value: object) -> int:
    """``spark_logs_limit``: a positive int, or 0 for no rate limit."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"spark_listener.install: spark_logs_limit={value!r}; expected an int >= 0 (the "
            "most records per minute per Spark logger and message; 0 turns the limit off)."
        )
    return value


def jar_class(sc: Any, name: str) -> Any:
    """Load ``name`` from the shipped jar into the driver JVM (one class loader per JVM).

    py4j caches reflected methods by class name, so a second copy of a class from another
    class loader would break calls on the first: every class comes from the same loader.
    """
    if not os.path.exists(JAR):
        raise FileNotFoundError(JAR)
    gateway = sc._gateway
    loader = _loaders.get(id(gateway))
    if loader is None:
        jvm = sc._jvm
        urls = gateway.new_array(jvm.java.net.URL, 1)
        urls[0] = jvm.java.io.File(JAR).toURI().toURL()
        parent = sc._jsc.sc().getClass().getClassLoader()
        loader = jvm.java.net.URLClassLoader(urls, parent)
        _loaders[id(gateway)] = loader
    return loader.loadClass(name)


class SparkLogs:
    """The attached appender: ``seal()`` before a flush, ``detach()`` once."""

    def __init__(self, appender: Any, files: CompanionFiles, level: str) -> None:
        self.appender = appender
        self.files = files
        self.level = level
        self.attached = True

    def seal(self) -> str | None:
        """Write what the appender holds and seal its file (compression/retention follow)."""
        if not self.attached:
            return None
        try:
            path = self.appender.seal()
        except Exception:  # the JVM is gone: recover() seals the file later
            return None
        self.files.sealed(path)
        return path  # type: ignore[no-any-return]

    def detach(self) -> str | None:
        """Remove the appender from Spark's root logger, write what it holds and seal."""
        if not self.attached:
            return None
        self.attached = False
        try:
            path = self.appender.detach()
        except Exception:
            return None
        self.files.sealed(path)
        return path  # type: ignore[no-any-return]

    def counts(self) -> dict[str, int]:
        """``written``, ``suppressed`` (rate limit) and ``dropped`` (full buffer) events."""
        try:
            a = self.appender
            return {
                "written": int(a.written()),
                "suppressed": int(a.suppressed()),
                "dropped": int(a.dropped()),
            }
        except Exception:
            return {"written": 0, "suppressed": 0, "dropped": 0}


@contextlib.contextmanager
def flushing(logs: SparkLogs | None) -> Iterator[None]:
    """Mark a LakeTrace flush for the appender: Spark's scheduler threads carry no job group,
    so while it runs their INFO-and-below events are not captured (WARN and above are,
    unless they name a job or stage of the flush job group)."""
    if logs is None or not logs.attached:
        yield
        return
    try:
        logs.appender.flushing(True)
    except Exception:  # the JVM is gone: nothing to mark
        yield
        return
    try:
        yield
    finally:
        try:
            logs.appender.flushing(False)
        except Exception:
            pass


def attach(spark: Any, logger: LakeTraceLogger, level: str, *, limit: int) -> SparkLogs:
    """Attach the appender to the driver's root logger; raises when it cannot."""
    log_dir = logger.log_dir
    if log_dir is None:
        raise RuntimeError("the logger has no spool directory (log_dir=None)")
    sc = spark.sparkContext
    cls = jar_class(sc, "io.laketrace.LakeTraceAppender")
    files = CompanionFiles(logger, SUFFIX)
    redact = logger.config.redact
    patterns = redact.secret_regexes() if redact is not None else []
    gateway = sc._gateway
    jpatterns = gateway.new_array(sc._jvm.java.lang.String, len(patterns))
    for i, p in enumerate(patterns):
        jpatterns[i] = p
    jsc = sc._jsc.sc()
    args = [
        jsc,
        level,
        os.path.abspath(log_dir),
        files.prefix,  # the logger name masked, as in the logger's own file names
        safe_name(logger.run_id, limit=120),
        runtime.hostname(),
        str(runtime.detect_runtime()),
        jsc.applicationId(),
        redact.name(jsc.appName()) if redact is not None else jsc.appName(),
        runtime.FLUSH_JOB_GROUP,
        files.rotation_bytes,
        limit,
        int(RATE_WINDOW_SECONDS * 1000),
        QUEUE_CAPACITY,
        jpatterns,
    ]
    appender = _call_static(sc, cls, "attach", args)
    return SparkLogs(appender, files, level)


def _call_static(sc: Any, cls: Any, name: str, args: list[Any]) -> Any:
    """Call a static method of a class from the jar's class loader (py4j cannot name it)."""
    method = next(m for m in cls.getMethods() if m.getName() == name)
    jargs = sc._gateway.new_array(sc._jvm.java.lang.Object, len(args))
    for i, value in enumerate(args):
        jargs[i] = value  # reflection unboxes and widens (Integer -> long)
    return method.invoke(None, jargs)
