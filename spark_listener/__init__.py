"""Spark listener for LakeTrace (registers on a live SparkSession).

The listener itself is delivered by issue 5; until then `install` raises a clear error.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]


def install(spark: Any, logger: Any, **options: Any) -> Any:
    """Register the LakeTrace listener on ``spark`` (not yet available in this release)."""
    raise NotImplementedError(
        "spark_listener.install is not available in this LakeTrace release yet; call "
        "laketrace.flush_to_delta(...) explicitly after your job instead."
    )
