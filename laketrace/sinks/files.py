"""File-backed handlers: the spool (lake lines in ``log_dir``) and plain text files."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..record.encoder import lake_line
from ..record.record import Record
from ..spool._fs import make_private_dirs
from ..spool.ledger import shipped_stems
from ..spool.names import (
    COMPRESSED_PATTERN,
    INTERNAL_DIR,
    STAMP_PATTERN,
    SpoolNamer,
    list_spool,
    spool_stem,
    stamp,
    stamp_epoch,
)
from .file_sink import FileSink
from .handlers import Handler, report, text_renderer
from .lifecycle import FileLifecycle, SealedFile
from .options import HandlerOptions


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
            report=report,
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
                if filt is not None and not self.passes(rec):
                    continue
                items.append((lake_line(rec), rec.ts, rec))
            except Exception:
                if not self._catch:
                    raise
                self._errors += 1
        self.file.write_many(items)

    def close(self) -> None:
        """Seal the active file and wait (bounded) for its compression and retention."""
        self.file.seal()
        self.lifecycle.wait()

    def after_fork_child(self) -> None:
        self.file.after_fork_child()


class _PlainNamer:
    """Plain files: the path is the active file; sealed files get a time-stamped name."""

    def __init__(self, path: str) -> None:
        self.path = path
        root, ext = os.path.splitext(path)
        self._sibling = re.compile(
            re.escape(os.path.basename(root))
            + rf"\.({STAMP_PATTERN})\.\d+(?:\.\d+)?"
            + re.escape(ext)
            + rf"(?:{COMPRESSED_PATTERN})?$"
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
        when = stamp(opened_at)
        candidate = f"{root}.{when}.{os.getpid()}{ext}"
        n = 1
        while os.path.exists(candidate):
            candidate = f"{root}.{when}.{os.getpid()}.{n}{ext}"
            n += 1
        return candidate


class TextFileHandler(Handler):
    """A plain file path sink (human text by default; ``json``/``serialize``/``format``)."""

    kind = "file"

    def __init__(self, hid: int, opts: HandlerOptions, path: str) -> None:
        super().__init__(hid, opts, path)
        parent = os.path.dirname(os.path.abspath(path)) or "."
        try:
            make_private_dirs(parent)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ConfigError(
                f"add_handler 'sink': cannot create the directory of {path!r} ({reason}). "
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
            report=report,
            on_seal=self.lifecycle.on_seal if self.lifecycle.active else None,
        )

    def emit(self, rec: Record) -> None:
        self.file.write(self.render(rec).encode("utf-8", "replace"), rec.ts, rec)

    def close(self) -> None:
        """Seal the active file and wait (bounded) for its compression and retention."""
        self.file.seal()
        self.lifecycle.wait()

    def after_fork_child(self) -> None:
        self.file.after_fork_child()
