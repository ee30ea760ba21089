"""Handlers: where records go (spool, plain files, stdout/stderr, callables)."""

from __future__ import annotations

import calendar
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._config import ConfigError, HandlerOptions
from ._filesink import FileSink
from ._format import human_line, json_line, template_formatter
from ._lifecycle import FileLifecycle, SealedFile
from ._manifest import shipped_stems, spool_stem
from ._record import Record
from ._spool import INTERNAL_DIR, SpoolNamer, lake_line, list_spool


def stamp_epoch(stamp: str) -> float:
    """``20261128T132420123456Z`` -> epoch seconds."""
    t = time.strptime(stamp[:15], "%Y%m%dT%H%M%S")
    return calendar.timegm(t) + int(stamp[15:21]) / 1e6


class Message(str):
    """The text a callable sink receives; ``.record`` is the `Record` behind it."""

    __slots__ = ("record",)
    record: Record


def _report(text: str) -> None:
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
            if not isinstance(out, str):
                out = str(out)
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

    def handle(self, rec: Record) -> None:
        try:
            filt = self._filter
            if filt is not None and not filt(rec):
                return
            self.emit(rec)
        except Exception as exc:
            if not self._catch:
                raise
            self._errors += 1
            if self._errors == 1:
                _report(
                    f"LakeTrace: handler {self.id} ({self.describe()}) raised {exc!r} while "
                    "handling a record; the record was skipped for this handler and the "
                    "application keeps running. Further errors of this handler are counted "
                    "silently (set catch=False to raise them)."
                )

    def emit(self, rec: Record) -> None:
        raise NotImplementedError

    def handle_many(self, recs: list[Record]) -> None:
        """Handle a batch (the enqueue writer thread calls this)."""
        for rec in recs:
            self.handle(rec)

    def describe(self) -> str:
        return f"{self.kind} {self.spec!r}"

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def after_fork_child(self) -> None:
        pass


class SpoolHandler(Handler):
    """Writes lake records (one JSON object per line) to the logger's spool directory."""

    kind = "spool"

    def __init__(
        self,
        hid: int,
        opts: HandlerOptions,
        log_dir: str,
        logger_name: str,
        run_id: str,
        *,
        has_target: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(hid, opts, log_dir)
        self.log_dir = log_dir
        self.logger_name = logger_name
        self.has_target = has_target
        label = f"handler {hid} (spool {log_dir})"
        self.lifecycle = FileLifecycle(
            label=label,
            compression=opts.compression,
            retention=opts.retention,
            list_sealed=self._sealed_files,
            clock=clock,
            tmp_dir=os.path.join(log_dir, INTERNAL_DIR, "tmp"),
        )
        self.file = FileSink(
            SpoolNamer(log_dir, logger_name, run_id),
            opts,
            label=label,
            on_seal=self.lifecycle.on_seal if self.lifecycle.active else None,
            report=_report,
            owner_lock=True,
        )

    def _sealed_files(self) -> list[SealedFile]:
        shipped = shipped_stems(self.log_dir) if self.has_target else None
        out = []
        for path, name in list_spool(self.log_dir, logger=self.logger_name):
            if not name.sealed:
                continue
            stem = spool_stem(path)
            out.append(
                SealedFile(path, stamp_epoch(name.stamp), shipped is None or stem in shipped)
            )
        return out

    def emit(self, rec: Record) -> None:
        self.file.write(lake_line(rec), rec.ts, rec)

    def write_lines(self, items: list[tuple[bytes, float, Any]]) -> None:
        """Write pre-encoded lines (the enqueue writer's fast path)."""
        self.file.write_many(items)

    def handle_many(self, recs: list[Record]) -> None:
        filt = self._filter
        items = []
        for rec in recs:
            try:
                if filt is not None and not filt(rec):
                    continue
                items.append((lake_line(rec), rec.ts, rec))
            except Exception:
                if not self._catch:
                    raise
                self._errors += 1
        self.file.write_many(items)

    def close(self) -> None:
        self.file.seal()

    def after_fork_child(self) -> None:
        self.file.after_fork_child()


class _PlainNamer:
    """Plain files: the path is the active file; sealed files get a time-stamped name."""

    def __init__(self, path: str) -> None:
        self.path = path
        root, ext = os.path.splitext(path)
        self._sibling = re.compile(
            re.escape(os.path.basename(root))
            + r"\.(\d{8}T\d{12}Z)\.\d+(?:\.\d+)?"
            + re.escape(ext)
            + r"(?:\.gz|\.bz2|\.xz|\.zip)?$"
        )

    def sealed_files(self) -> list[SealedFile]:
        directory = os.path.dirname(self.path) or "."
        out = []
        for fn in os.listdir(directory):
            m = self._sibling.match(fn)
            if m:
                out.append(SealedFile(os.path.join(directory, fn), stamp_epoch(m.group(1))))
        out.sort(key=lambda f: (f.created, f.path))
        return out

    def active_path(self, opened_at: float) -> str:
        return self.path

    def sealed_path(self, active: str, opened_at: float) -> str:
        root, ext = os.path.splitext(active)
        t = time.gmtime(opened_at)
        stamp = time.strftime("%Y%m%dT%H%M%S", t) + f"{int((opened_at % 1) * 1e6):06d}Z"
        candidate = f"{root}.{stamp}.{os.getpid()}{ext}"
        n = 1
        while os.path.exists(candidate):
            candidate = f"{root}.{stamp}.{os.getpid()}.{n}{ext}"
            n += 1
        return candidate


class TextFileHandler(Handler):
    """A plain file path sink (human text by default; ``json``/``serialize``/``format``)."""

    kind = "file"

    def __init__(self, hid: int, opts: HandlerOptions, path: str) -> None:
        super().__init__(hid, opts, path)
        parent = os.path.dirname(os.path.abspath(path)) or "."
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"add_handler 'sink': cannot create the directory of {path!r} ({exc.strerror}). "
                "Give a path in a writable directory."
            ) from None
        if not os.access(parent, os.W_OK):
            raise ConfigError(
                f"add_handler 'sink': {parent!r} is not writable; give a path in a writable "
                "directory."
            )
        self.render = text_renderer(opts)
        namer = _PlainNamer(os.path.abspath(path))
        label = f"handler {hid} (file {path})"
        self.lifecycle = FileLifecycle(
            label=label,
            compression=opts.compression,
            retention=opts.retention,
            list_sealed=namer.sealed_files,
        )
        self.file = FileSink(
            namer,
            opts,
            label=label,
            report=_report,
            on_seal=self.lifecycle.on_seal if self.lifecycle.active else None,
        )

    def emit(self, rec: Record) -> None:
        self.file.write(self.render(rec).encode("utf-8", "replace"), rec.ts, rec)

    def close(self) -> None:
        self.file.seal()

    def after_fork_child(self) -> None:
        self.file.after_fork_child()


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
        return f"callable {getattr(self.func, '__qualname__', self.func)!r}"
