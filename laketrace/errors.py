"""Exceptions LakeTrace raises on purpose (one module, so every layer can raise them)."""

from __future__ import annotations

from typing import NoReturn


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


def raise_clean(err: BaseException) -> NoReturn:
    """Raise ``err`` with no ``__context__``: an error that replaces one holding secrets
    must not keep the original reachable (an ``except`` or a context manager's
    ``__exit__`` would otherwise chain it)."""
    try:
        raise err
    except BaseException as raised:
        raised.__context__ = None
        raise  # a bare re-raise keeps the cleared context
