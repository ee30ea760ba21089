"""Handlers: the base (level, filter, error containment), text rendering, and the stream and
callable sinks. File-backed handlers (spool, plain files) are in `files`."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..record.encoder import lake_line
from ..record.format import human_line, json_line, template_formatter
from ..record.record import Record
from ..record.sanitize import safe_repr, safe_str
from .options import HandlerOptions

#: set on an exception a ``catch=False`` handler raises: the log call re-raises it
RAISE_MARK = "_laketrace_raise"


class Message(str):
    """The text a callable sink receives; ``.record`` is the `Record` behind it."""

    __slots__ = ("record",)
    record: Record


def report(text: str) -> None:
    try:
        sys.__stderr__.write(text + "\n") if sys.__stderr__ else None
        if sys.stderr is not sys.__stderr__:
            sys.stderr.write(text + "\n")
    except Exception:
        pass


def text_renderer(opts: HandlerOptions, *, color: bool = False) -> Callable[[Record], str]:
    """Choose how a text sink renders: formatter > format > serialize > json > human."""
    if opts.formatter is not None:
        user = opts.formatter

        def formatted(rec: Record) -> str:
            out = user(rec)
            if type(out) is not str:
                out = safe_str(out)
            return out if out.endswith("\n") else out + "\n"

        return formatted
    if opts.format is not None:
        return template_formatter(opts.format)
    if opts.serialize:
        return lambda rec: lake_line(rec).decode("utf-8")
    if opts.json:
        return json_line
    if color:
        return lambda rec: human_line(rec, color=True)
    return human_line


class Handler:
    """Base handler: level and filter checks, error containment, id."""

    kind = "handler"

    def __init__(self, hid: int, opts: HandlerOptions, spec: Any) -> None:
        self.id = hid
        self.opts = opts
        self.levelno = opts.level.no
        self.spec = spec
        self._filter = opts.filter
        self._catch = opts.catch
        self._errors = 0
        self._filter_error_reported = False

    def handle(self, rec: Record) -> None:
        try:
            filt = self._filter
            if filt is not None and not self.passes(rec):
                return
            self.emit(rec)
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: Exception) -> None:
        """Contain an error of this handler: count it and report the first on stderr.

        With ``catch=False`` it is raised instead, marked so that the log call lets it
        through to the caller.
        """
        if not self._catch:
            try:
                setattr(exc, RAISE_MARK, True)
            except Exception:
                pass
            raise exc
        self._errors += 1
        if self._errors == 1:
            report(
                f"LakeTrace: handler {self.id} ({self.describe()}) raised {safe_repr(exc)} while "
                "handling a record; the record was skipped for this handler and the "
                "application keeps running. Further errors of this handler are counted "
                "silently (set catch=False to raise them)."
            )

    def passes(self, rec: Record) -> bool:
        """The filter's verdict; a filter that raises lets the record through (reported once),
        so a broken filter never costs a record. With ``catch=False`` it raises."""
        try:
            return bool(self._filter(rec))  # type: ignore[misc]
        except Exception as exc:
            if not self._catch:
                raise
            if not self._filter_error_reported:
                self._filter_error_reported = True
                report(
                    f"LakeTrace: handler {self.id} ({self.describe()}): the filter raised "
                    f"{exc!r}; the record was kept. Further errors of this filter are not "
                    "reported."
                )
            return True

    def emit(self, rec: Record) -> None:
        raise NotImplementedError

    def handle_many(self, recs: list[Record]) -> None:
        """Handle a batch (the enqueue writer thread calls this)."""
        for rec in recs:
            self.handle(rec)

    def describe(self) -> str:
        return f"{self.kind} {safe_repr(self.spec)}"

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def after_fork_child(self) -> None:
        pass


class StreamHandler(Handler):
    """``stdout`` / ``stderr``: looks the stream up at write time (notebooks swap it per cell)."""

    kind = "stream"

    def __init__(self, hid: int, opts: HandlerOptions, which: str) -> None:
        super().__init__(hid, opts, which)
        self.which = which
        self.lock = threading.Lock()
        stream = getattr(sys, which)
        color = opts.colorize
        if color is None:
            try:
                color = bool(stream.isatty()) and "NO_COLOR" not in os.environ
            except Exception:
                color = False
        self.render = text_renderer(opts, color=color)

    def emit(self, rec: Record) -> None:
        text = self.render(rec)
        with self.lock:
            stream = getattr(sys, self.which)
            stream.write(text)

    def flush(self) -> None:
        try:
            getattr(sys, self.which).flush()
        except Exception:
            pass

    def after_fork_child(self) -> None:
        self.lock = threading.Lock()


class CallableHandler(Handler):
    """Calls ``sink(message)``; ``message`` is the rendered text with ``.record`` attached."""

    kind = "callable"

    def __init__(self, hid: int, opts: HandlerOptions, func: Callable[[Any], Any]) -> None:
        super().__init__(hid, opts, func)
        self.func = func
        self.render = text_renderer(opts)

    def emit(self, rec: Record) -> None:
        msg = Message(self.render(rec))
        msg.record = rec
        self.func(msg)

    def describe(self) -> str:
        try:
            name = getattr(self.func, "__qualname__", self.func)
        except Exception:
            name = self.func
        return f"callable {safe_repr(name)}"
