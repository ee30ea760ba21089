"""The ``laketrace`` command line (demo, tail, flush, sql, report, vacuum, recover), the demo
job, progress output and the local Spark session used by the demo, tests and notebooks."""

from __future__ import annotations

from .commands import build_parser, main

__all__ = ["build_parser", "main"]
