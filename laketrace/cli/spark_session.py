"""A local SparkSession with Delta Lake, for the demo, the notebooks and the tests.

On Databricks and Fabric use the platform's ``spark``; this module is for local runs.
The Delta jars are resolved by Spark's Ivy through ``configure_spark_with_delta_pip``
(Maven Central, cached in ``~/.ivy2*``). If Ivy cannot resolve them, the jars are fetched
once with Maven into ``~/.cache/laketrace/jars`` and passed through ``spark.jars``; if
that fails too, the error names the installed pyspark/delta-spark pair and the pairs whose
jars Maven Central serves (`WORKING_PAIRS`). ``jvm_log=`` sends the JVM's own output (Ivy's
resolution report, log4j's console lines) to a file instead of the terminal.

>>> from laketrace.cli.spark_session import local_spark
>>> spark = local_spark("my-app")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

JAR_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "laketrace", "jars")
#: (pyspark, delta-spark) pairs whose Delta jars Maven Central serves, newest first; the
#: ``spark`` extra's bounds and ``constraints/*.txt`` keep to these (tests check both)
WORKING_PAIRS = (("4.0.1", "4.0.0"), ("3.5.7", "3.3.2"))


def _base_builder(app_name: str, master: str, conf: dict[str, str] | None) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(
            "a local SparkSession needs pyspark and delta-spark: pip install 'laketrace[spark]' "
            "(on Databricks/Fabric use the platform's spark session instead)"
        ) from exc
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder


def delta_maven_coordinates(
    pyspark_version: str | None = None, delta_version: str | None = None
) -> list[str]:
    """Maven coordinates of the Delta jars for a pyspark/delta-spark pair (default: the
    installed one), named as delta-spark's own ``configure_spark_with_delta_pip`` asks.

    >>> delta_maven_coordinates("4.0.1", "4.0.0")[0], delta_maven_coordinates("4.0.1", "4.1.0")[0]
    ('io.delta:delta-spark_2.13:4.0.0', 'io.delta:delta-spark_4.0_2.13:4.1.0')
    """
    from importlib.metadata import version

    spark = pyspark_version or version("pyspark")
    delta = delta_version or version("delta-spark")
    major, minor = (int(x) for x in delta.split(".")[:2])
    scala = "2.13" if int(spark.split(".")[0]) >= 4 else "2.12"
    if (major, minor) >= (4, 1):  # delta-spark 4.1+ names the Spark line too
        artifact = f"delta-spark_{'.'.join(spark.split('.')[:2])}_{scala}"
    else:
        artifact = f"delta-spark_{scala}" if major >= 3 else f"delta-core_{scala}"
    return [f"io.delta:{artifact}:{delta}", f"io.delta:delta-storage:{delta}"]


def pair_advice(jvm_log: str | None = None) -> str:
    """What to install when the Delta jars of the installed pair cannot be fetched."""
    from importlib.metadata import version

    pairs = " or ".join(f"pip install 'pyspark=={p}' 'delta-spark=={d}'" for p, d in WORKING_PAIRS)
    where = f" Spark's and Ivy's output: {jvm_log}." if jvm_log else ""
    return (
        f"Spark could not fetch the Delta Lake jars for pyspark {version('pyspark')} with "
        f"delta-spark {version('delta-spark')} ({delta_maven_coordinates()[0]} is not on "
        f"Maven Central, or Maven Central is out of reach). Pairs whose jars resolve: {pairs} "
        f"(the `spark` extra's bounds keep to such pairs).{where}"
    )


@contextlib.contextmanager
def jvm_output_to(path: str | None) -> Iterator[None]:
    """While starting the JVM, point this process's stdout/stderr file descriptors at
    ``path`` (appended): the JVM inherits them, so Ivy's resolution report and log4j's
    console output land there for the JVM's lifetime. Python's ``sys.stdout`` is flushed
    and restored afterwards. ``path=None`` changes nothing."""
    if path is None:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for d in (*saved, fd):
            os.close(d)


def fetch_delta_jars(cache_dir: str = JAR_CACHE) -> list[str]:
    """Download the Delta jars with Maven into ``cache_dir`` (once) and return their paths."""
    coords = delta_maven_coordinates()
    wanted = [os.path.join(cache_dir, f"{c.split(':')[1]}-{c.split(':')[2]}.jar") for c in coords]
    if all(os.path.exists(j) for j in wanted):
        return wanted
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(
            "Spark could not resolve the Delta jars with Ivy and Maven ('mvn') is not on PATH. "
            "Install Maven, or put "
            f"{', '.join(os.path.basename(j) for j in wanted)} in {cache_dir}."
        )
    os.makedirs(cache_dir, exist_ok=True)
    for coord in coords:
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={coord}",
                f"-DoutputDirectory={cache_dir}",
            ],
            check=True,
        )
    return wanted


def local_spark(
    app_name: str = "laketrace",
    *,
    master: str = "local[2]",
    conf: dict[str, str] | None = None,
    jvm_log: str | None = None,
) -> Any:
    """Start (or return) a local SparkSession configured for Delta Lake.

    ``jvm_log``: a file for the JVM's own output (Ivy's resolution report, log4j's console
    lines) instead of the terminal. When the Delta jars of the installed pyspark/delta-spark
    pair cannot be fetched, the RuntimeError says which pairs work.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers must run this interpreter (the one with laketrace and its extras),
    # not whatever "python3" is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = _base_builder(app_name, master, conf)
    try:
        from delta import configure_spark_with_delta_pip
    except ImportError as exc:
        raise ImportError(
            "Delta Lake for Spark is missing: pip install 'laketrace[spark]'"
        ) from exc
    try:
        with jvm_output_to(jvm_log):
            return configure_spark_with_delta_pip(builder).getOrCreate()
    except Exception as exc:  # Ivy could not resolve: fall back to Maven-fetched jars
        if "unresolved dependency" not in str(exc) and "JAVA_GATEWAY" not in str(exc):
            raise
    try:
        jars = fetch_delta_jars()
    except Exception as exc:
        raise RuntimeError(pair_advice(jvm_log)) from exc
    # a fresh builder: the first one still asks Ivy for the packages
    fallback = _base_builder(app_name, master, conf).config("spark.jars", ",".join(jars))
    with jvm_output_to(jvm_log):
        return fallback.getOrCreate()
