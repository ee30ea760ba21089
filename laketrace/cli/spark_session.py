"""A local SparkSession with Delta Lake, for the demo, the notebooks and the tests.

On Databricks and Fabric use the platform's ``spark``; this module is for local runs.
The Delta jars are resolved by Spark's Ivy through ``configure_spark_with_delta_pip``
(Maven Central, cached in ``~/.ivy2*``). If Ivy cannot resolve them, the jars are fetched
once with Maven into ``~/.cache/laketrace/jars`` and passed through ``spark.jars``.

>>> from laketrace.cli.spark_session import local_spark
>>> spark = local_spark("my-app")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

JAR_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "laketrace", "jars")


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


def delta_maven_coordinates() -> list[str]:
    """Maven coordinates of the Delta jars matching the installed delta-spark and pyspark."""
    from importlib.metadata import version

    delta_version = version("delta-spark")
    major = int(delta_version.split(".")[0])
    scala = "2.13" if int(version("pyspark").split(".")[0]) >= 4 else "2.12"
    if major >= 3:
        return [
            f"io.delta:delta-spark_{scala}:{delta_version}",
            f"io.delta:delta-storage:{delta_version}",
        ]
    return [
        f"io.delta:delta-core_{scala}:{delta_version}",
        f"io.delta:delta-storage:{delta_version}",
    ]


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
) -> Any:
    """Start (or return) a local SparkSession configured for Delta Lake."""
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
        return configure_spark_with_delta_pip(builder).getOrCreate()
    except Exception as exc:  # Ivy could not resolve: fall back to Maven-fetched jars
        if "unresolved dependency" not in str(exc) and "JAVA_GATEWAY" not in str(exc):
            raise
        jars = fetch_delta_jars()
        return builder.config("spark.jars", ",".join(jars)).getOrCreate()
