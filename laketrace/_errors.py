"""Exceptions LakeTrace raises on purpose."""

from __future__ import annotations


class LakeTraceError(Exception):
    """Base class of LakeTrace's own errors."""


class ConfigError(LakeTraceError, ValueError):
    """A config key or value LakeTrace cannot accept; the message says how to fix it."""
