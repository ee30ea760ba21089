"""The `deltalake` module with storage options on every table the delta-rs writer opens.

The writer opens tables in many places (``DeltaTable(uri)``, ``is_deltatable``,
``create``); wrapping the module once gives each of them the current options, so a token
that is renewed during a long flush (`laketrace.storage.storage_for`) reaches the next
table opened. ``write_deltalake`` is always given an opened table, whose options it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Options = Callable[[], dict[str, str]]


class _Tables:
    """``deltalake.DeltaTable`` with ``storage_options=`` filled in."""

    def __init__(self, cls: Any, options: Options) -> None:
        self._cls = cls
        self._options = options

    def __call__(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("storage_options", self._options())
        return self._cls(uri, *args, **kwargs)

    def is_deltatable(self, uri: str, storage_options: dict[str, str] | None = None) -> bool:
        return bool(self._cls.is_deltatable(uri, storage_options or self._options()))

    def create(self, uri: str, **kwargs: Any) -> Any:
        kwargs.setdefault("storage_options", self._options())
        return self._cls.create(uri, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cls, name)


class _Module:
    """The `deltalake` module, but ``DeltaTable`` opens tables with the options."""

    def __init__(self, module: Any, options: Options) -> None:
        self._module = module
        self.DeltaTable = _Tables(module.DeltaTable, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def with_storage_options(module: Any, options: Options | None) -> Any:
    """``module`` (`deltalake`) as is without options, else wrapped to pass them."""
    return module if options is None else _Module(module, options)
