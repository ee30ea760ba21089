"""One session-scoped local SparkSession (with Delta) for every Spark test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="Spark tests need pyspark: pip install 'laketrace[spark]'")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local[2] SparkSession with Delta, UI and console progress off, 2 shuffle partitions."""
    from laketrace.cli.spark_session import local_spark

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = local_spark(
        "laketrace-tests", master="local[2]", conf={"spark.sql.warehouse.dir": str(warehouse)}
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
