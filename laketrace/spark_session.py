"""Deprecated location of `laketrace.cli.spark_session` (kept so old notebooks still run).

>>> from laketrace.cli.spark_session import local_spark  # the current spelling
"""

from __future__ import annotations

import warnings

from .cli.spark_session import local_spark

warnings.warn(
    "laketrace.spark_session moved to laketrace.cli.spark_session; import local_spark from there.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["local_spark"]
