"""LakeTrace's Spark listener: Spark context in records, Spark failures as log records,
and automatic flushes to Delta.

>>> import spark_listener
>>> handle = spark_listener.install(spark, log, path="./lakehouse/laketrace_logs")  # doctest: +SKIP
>>> handle.uninstall()  # doctest: +SKIP
"""

from __future__ import annotations

from ._install import ListenerHandle, install

__all__ = ["ListenerHandle", "install"]
