"""Exceptions LakeTrace raises on purpose (one module, so every layer can raise them)."""

from __future__ import annotations


class LakeTraceError(Exception):
    """Base class of LakeTrace's own errors."""


class ConfigError(LakeTraceError, ValueError):
    """A config key or value LakeTrace cannot accept; the message says how to fix it."""


class FlushError(LakeTraceError):
    """The flush could not complete; nothing that was already committed is lost."""


class SchemaMismatchError(FlushError):
    """The target table exists with other columns; nothing was written."""


class StorageError(FlushError):
    """A remote store refused or could not serve a request (reads raise it too); the
    message names the account and container and never holds a secret."""
