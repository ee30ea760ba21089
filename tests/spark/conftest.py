"""One session-scoped local SparkSession (with Delta) for every Spark test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="Spark tests need pyspark: pip install 'laketrace[spark]'")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] SparkSession with Delta, UI and console progress off, 2 shuffle partitions."""
    from laketrace.spark_session import local_spark

    session = local_spark("laketrace-tests", master="local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
