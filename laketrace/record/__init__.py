"""The record: levels, the `Record` object, the message rule, JSON encoding, the one lake-line
encoder and the text formats (human lines, JSON for streams, user templates)."""

from __future__ import annotations

from .levels import LEVELS, Level, parse_level
from .record import (
    NO_JOB,
    ExceptionInfo,
    JobContext,
    Record,
    RenderedException,
    rendered_exception,
)

__all__ = [
    "LEVELS",
    "NO_JOB",
    "ExceptionInfo",
    "JobContext",
    "Level",
    "Record",
    "RenderedException",
    "parse_level",
    "rendered_exception",
]
