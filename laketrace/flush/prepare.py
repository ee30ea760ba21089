"""Making a batch of spool files ready for a writer.

Every file is first *held*: hard-linked into the batch's staging directory, so a live
logger compressing it, retention deleting it or a person moving it cannot take it away
mid-batch (the links survive a crash, so a resumed batch still has its files). Then:

* compressed files are decompressed here; a damaged one ships the lines read before the
  damage and gets one quarantine row for the rest;
* files the byte scan (`laketrace.flush.scan`) flags, or that the writer cannot read
  strictly, are split line by line with the one rule into a clean copy plus quarantine
  rows;
* foreign files (not spool names) are quarantined line by line; a file that cannot be
  read at all (not a regular file, no permission, an I/O error) gets one quarantine row
  naming it; a planned file that is gone gets one ``missing`` row.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import BinaryIO

from ..spool._fs import make_private_dirs, open_private_file
from ..spool.names import COMPRESSED_SUFFIXES, INTERNAL_DIR, spool_stem
from ..spool.read import DAMAGE_ERRORS, bounded_lines, open_regular, open_spool_file
from . import validate as _validate
from .scan import suspect
from .validate import RAW_LIMIT, too_long_reason, validate_line
from .writer import Prepared, QuarantineRow, Writer

#: the stem prefix of a foreign (non-spool) file in a planned batch
FOREIGN_PREFIX = "foreign:"
#: the most bytes a compressed file is decompressed by at a time: a zip member is read
#: (and its CRC checked) 4 KiB per call whatever is asked, so a bad CRC at its end costs
#: no more of the lines before it than reading by lines did
_COPY = 4 << 10
_FOREIGN_REASON = (
    "foreign file in log_dir: its name is not a LakeTrace spool file name, so its lines "
    "were not loaded (keep other files out of the spool directory)"
)


@dataclass(frozen=True)
class SpoolFile:
    """A sealed spool file chosen for a batch."""

    path: str
    stem: str
    size: int

    @property
    def foreign(self) -> bool:
        return self.stem.startswith(FOREIGN_PREFIX)

    @property
    def name(self) -> str:
        """The file name quarantine rows give for it."""
        return self.stem[len(FOREIGN_PREFIX) :] if self.foreign else os.path.basename(self.path)


def locate(spool_dir: str, stem: str, hint: str | None = None) -> str | None:
    """Where the file ``stem`` is now: ``hint``, or the stem compressed or uncompressed.

    A live logger may compress a sealed file between listing and reading it; the flush
    follows it rather than calling it missing.
    """
    if stem.startswith(FOREIGN_PREFIX):
        path = os.path.join(spool_dir, stem[len(FOREIGN_PREFIX) :])
        return path if os.path.lexists(path) else None
    base = os.path.join(spool_dir, stem)
    for path in ([hint] if hint else []) + [base] + [base + ext for ext in COMPRESSED_SUFFIXES]:
        if path and os.path.lexists(path):
            return path
    return None


def staging_dir(spool_dir: str, app_id: str, version: int) -> str:
    """The scratch directory of one batch (held links, decompressed and clean copies)."""
    tag = hashlib.sha1(app_id.encode()).hexdigest()[:10]
    return os.path.join(spool_dir, INTERNAL_DIR, "staging", f"{tag}-{version}")


def _held(held_dir: str, f: SpoolFile) -> str | None:
    """A link a crashed run of this batch already holds for ``f``."""
    if f.foreign:
        path = os.path.join(held_dir, f.name)
        return path if os.path.lexists(path) else None
    for ext in ("", *COMPRESSED_SUFFIXES):
        path = os.path.join(held_dir, f.stem + ext)
        if os.path.lexists(path):
            return path
    return None


def hold(spool_dir: str, f: SpoolFile, held_dir: str) -> tuple[str | None, str | None]:
    """``(held_path, problem)``: ``f`` linked into ``held_dir`` (None and why if it cannot)."""
    make_private_dirs(held_dir)
    held = _held(held_dir, f)
    if held is not None:
        return held, None
    for _ in range(3):  # the file may be renamed (compressed) under our feet: follow it
        src = locate(spool_dir, f.stem, f.path)
        if src is None:
            return None, "missing"
        try:
            mode = os.lstat(src).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            return src, None  # reading it reports what it is; never followed or opened
        dest = os.path.join(held_dir, os.path.basename(src))
        try:
            os.link(src, dest, follow_symlinks=False)
            return dest, None
        except FileNotFoundError:
            continue
        except OSError:  # no hard links here (another file system): read it in place
            return src, None
    return None, "missing"


#: errors of the machine, not of a file (out of file descriptors or memory): the flush
#: stops and the file waits for the next flush, where a quarantine row would close it
_MACHINE_ERRNOS = frozenset(
    e for e in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.EAGAIN) if e
)


def _machine(exc: BaseException) -> bool:
    """Whether ``exc``, met reading a spool file, is the machine's (re-raise it)."""
    return isinstance(exc, OSError) and exc.errno in _MACHINE_ERRNOS


def _raw_text(raw: bytes) -> str:
    return raw[:RAW_LIMIT].decode("utf-8", "replace").rstrip("\n")


def unreadable_row(name: str, exc: BaseException) -> QuarantineRow:
    """The one quarantine row of a file that could not be read at all."""
    return QuarantineRow(name, None, f"could not read the file: {exc}", "")


def _damage_row(name: str, line_no: int, exc: BaseException) -> QuarantineRow:
    return QuarantineRow(
        name,
        line_no,
        f"damaged file: {type(exc).__name__}: {exc}; lines {line_no} and after could not be "
        f"read (lines before were loaded)",
        "",
    )


def _after_nuls(raw: bytes) -> bytes | None:
    """The valid record after the last NUL of a damaged line, if there is one."""
    at = raw.rfind(b"\0")
    if at < 0:
        return None
    tail = raw[at + 1 :]
    return tail if tail.strip() and validate_line(tail) is None else None


def _judge(name: str, n: int, raw: bytes, size: int) -> tuple[bytes | None, QuarantineRow | None]:
    """What of line ``n`` (``size`` bytes, ``raw`` its head if too long) the clean copy
    keeps, and its quarantine row."""
    if size > _validate.MAX_LINE:  # not held whole, not parsed
        return None, QuarantineRow(name, n, too_long_reason(size), _raw_text(raw))
    if not raw.strip():
        return None, None
    reason = validate_line(raw)
    if reason is None:
        return raw, None
    tail = _after_nuls(raw)
    if tail is not None:  # a NUL run (a zeroed page) ran into the next record
        raw = raw[: len(raw) - len(tail)]
        reason += " (NUL bytes; the record after them was kept)"
    return tail, QuarantineRow(name, n, reason, _raw_text(raw))


@contextmanager
def _staging_copy(path: str) -> Iterator[BinaryIO]:
    """``path`` opened for a staging copy, removed again if writing it fails: a full disk
    is not kept full by a part copy until the next flush (which writes it anew)."""
    dst = open_private_file(path)
    try:
        with dst:
            yield dst
    except BaseException:
        with suppress(OSError):
            os.unlink(path)
        raise


def split_file(path: str, out_dir: str, name: str) -> tuple[str | None, list[QuarantineRow], int]:
    """Validate every line of ``path``; write the good ones to ``out_dir``.

    Returns ``(clean_path, quarantined_rows, good_count)``; ``clean_path`` is None when no
    line was good. ``name`` is the source file name quarantine rows carry.
    """
    make_private_dirs(out_dir)
    clean = os.path.join(out_dir, spool_stem(name) or "file")
    if not clean.endswith(".jsonl"):
        clean += ".jsonl"
    bad: list[QuarantineRow] = []
    good = n = 0
    try:
        src = open_spool_file(path)
    except OSError as exc:
        if _machine(exc):
            raise
        return None, [unreadable_row(name, exc)], 0
    with src, _staging_copy(clean) as dst:
        lines = bounded_lines(src, _validate.MAX_LINE, RAW_LIMIT)
        while True:
            try:  # only reading is damage: a write that fails (a full disk) stops the flush
                raw, size = next(lines)
            except StopIteration:
                break
            except DAMAGE_ERRORS as exc:
                if _machine(exc):
                    raise
                bad.append(_damage_row(name, n + 1, exc) if n else unreadable_row(name, exc))
                break
            n += 1
            kept, row = _judge(name, n, raw, size)
            # a line not kept stays, blank (every reader skips blank lines): the clean
            # copy's line numbers are the file's, so a row a writer adds for a line its
            # engine rejects (Spark, `duck_read.writer_reject_rows`) names that line
            dst.write(kept or b"\n")
            good += kept is not None
            if row is not None:
                bad.append(row)
    return (clean if good else None), bad, good


def decompress(path: str, out_dir: str, name: str) -> tuple[str | None, list[QuarantineRow]]:
    """A plain copy of the compressed ``path`` (as far as it can be read)."""
    make_private_dirs(out_dir)
    dest = os.path.join(out_dir, spool_stem(name))
    n = 0
    try:
        src = open_spool_file(path)
    except DAMAGE_ERRORS as exc:
        if _machine(exc):
            raise
        return None, [unreadable_row(name, exc)]
    with src, _staging_copy(dest) as dst:
        kept = written = 0  # bytes written up to the last newline, and in all
        # in blocks (a damaged file may hold gigabytes without a newline, and a read per
        # line cost a gzip file's flush ~27% more CPU); the lines read before the damage
        # are shipped (every stream `open_spool_file` opens has read1)
        while True:
            try:  # only reading is damage: a write that fails (a full disk) stops the flush
                block = src.read1(_COPY)  # type: ignore[attr-defined]
            except DAMAGE_ERRORS as exc:
                if _machine(exc):
                    raise
                dst.truncate(kept)  # the line the damage cut is reported, not shipped torn
                if not n:
                    return None, [unreadable_row(name, exc)]
                return dest, [_damage_row(name, n + 1, exc)]
            if not block:
                break
            dst.write(block)
            n += block.count(b"\n")
            at = block.rfind(b"\n")
            if at >= 0:
                kept = written + at + 1
            written += len(block)
    return dest, []


def quarantine_foreign(path: str, name: str) -> list[QuarantineRow]:
    """Every line of a foreign file, as quarantine rows."""
    rows: list[QuarantineRow] = []
    try:
        with open_regular(path) as fh:
            for n, (raw, _) in enumerate(bounded_lines(fh, _validate.MAX_LINE, RAW_LIMIT), 1):
                rows.append(QuarantineRow(name, n, _FOREIGN_REASON, _raw_text(raw)))
    except OSError as exc:
        if _machine(exc):
            raise
        rows.append(unreadable_row(name, exc))
    return rows


def missing_row(stem: str, version: int) -> QuarantineRow:
    """The quarantine row of a planned file that disappeared before it was shipped."""
    name = stem[len(FOREIGN_PREFIX) :] if stem.startswith(FOREIGN_PREFIX) else stem
    return QuarantineRow(
        name,
        None,
        f"missing: planned for flush batch {version} but deleted before it was shipped "
        "(by retention or by hand); its records could not be loaded",
        "",
    )


def _suspect(writer: Writer, path: str) -> str | None:
    """The byte scan of ``path``, or its result from a writer that read ahead."""
    scanned = getattr(writer, "scanned", None)  # delta-rs: `laketrace.flush.prefetch`
    known, hit = scanned(path) if scanned is not None else (False, None)
    return hit if known else suspect(path, writer.lenient)


def _plain(writer: Writer, held: str, f: SpoolFile, staging: str) -> tuple[str | None, list]:
    """A plain file the writer may read for ``held`` (decompressed, split if suspect)."""
    rows: list[QuarantineRow] = []
    path: str | None = held
    if f.name.endswith(COMPRESSED_SUFFIXES):
        path, rows = decompress(held, os.path.join(staging, "plain"), f.name)
    if path is not None and _suspect(writer, path):
        path, bad, _ = split_file(path, os.path.join(staging, "clean"), f.name)
        rows += bad
    return path, rows


def prepare(
    writer: Writer,
    spool_dir: str,
    files: list[SpoolFile],
    staging: str,
    out: Prepared,
) -> Prepared:
    """Fill ``out`` with the readable files and quarantine rows of ``files``."""
    held_dir = os.path.join(staging, "held")
    candidates: list[tuple[str, str]] = []
    for f in files:
        held, _ = hold(spool_dir, f, held_dir)
        if held is None:
            out.missing.append(f.stem)
            continue
        f = SpoolFile(held, f.stem, f.size)
        out.sources.append(f.name)
        if f.foreign:
            out.quarantine.extend(quarantine_foreign(held, f.name))
            continue
        path, rows = _plain(writer, held, f, staging)
        out.quarantine.extend(rows)
        if path is not None:
            candidates.append((path, f.name))
            out.origin[path] = f.name
    problems = writer.problem_files([p for p, _ in candidates])
    for path, name in candidates:
        if path in problems:
            cleaned, bad, _ = split_file(path, os.path.join(staging, "clean2"), name)
            out.quarantine.extend(bad)
            if cleaned is not None:
                out.readable.append(cleaned)
                out.origin[cleaned] = name
        else:
            out.readable.append(path)
    # a held file stays held until the batch is in the ledger, so a file missing now was
    # missing when a crashed run of this batch committed (its row is idempotent)
    if out.report_missing:
        out.quarantine.extend(missing_row(stem, out.version) for stem in out.missing)
    out.ingested_at = out.ingested_at or _dt.datetime.now(_dt.timezone.utc)
    return out


def clear_staging(path: str) -> None:
    """Remove a batch's staging directory (after its commit is in the ledger)."""
    shutil.rmtree(path, ignore_errors=True)
