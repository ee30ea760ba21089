"""Making a batch of spool files ready for a writer: decompress what it cannot read, split
files with bad lines into a clean copy plus quarantine rows, quarantine foreign files."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from dataclasses import dataclass

from ..spool._fs import make_private_dirs, open_private_file
from ..spool.names import COMPRESSED_SUFFIXES, spool_stem
from ..spool.read import open_spool_file
from .validate import RAW_LIMIT, validate_line
from .writer import Prepared, QuarantineRow, Writer

#: the stem prefix of a foreign (non-spool) file in a planned batch
FOREIGN_PREFIX = "foreign:"
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


def split_file(path: str, out_dir: str) -> tuple[str, list[QuarantineRow], int]:
    """Validate every line of ``path``; write the good ones to ``out_dir``.

    Returns ``(clean_path, quarantined_rows, good_count)``.
    """
    make_private_dirs(out_dir)
    clean = os.path.join(out_dir, spool_stem(path))
    if not clean.endswith(".jsonl"):
        clean += ".jsonl"
    bad: list[QuarantineRow] = []
    good = 0
    with open_spool_file(path) as src, open_private_file(clean) as dst:
        for n, raw in enumerate(src, 1):
            if not raw.strip():
                continue
            reason = validate_line(raw)
            if reason is None:
                dst.write(raw)
                good += 1
            else:
                bad.append(QuarantineRow(os.path.basename(path), n, reason, _raw_text(raw)))
    return clean, bad, good


def _raw_text(raw: bytes) -> str:
    return raw[:RAW_LIMIT].decode("utf-8", "replace").rstrip("\n")


def materialize(path: str, out_dir: str, supported: tuple[str, ...]) -> str:
    """``path`` if the reader handles its compression, else a decompressed copy."""
    name = os.path.basename(path)
    if not name.endswith(COMPRESSED_SUFFIXES) or name.endswith(supported):
        return path
    make_private_dirs(out_dir)
    dest = os.path.join(out_dir, spool_stem(path))
    with open_spool_file(path) as src, open_private_file(dest) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return dest


def quarantine_foreign(path: str) -> list[QuarantineRow]:
    """Every line of a foreign file, as quarantine rows."""
    with open(path, "rb") as fh:
        name = os.path.basename(path)
        return [
            QuarantineRow(name, n, _FOREIGN_REASON, _raw_text(raw)) for n, raw in enumerate(fh, 1)
        ]


def prepare(writer: Writer, version: int, files: list[SpoolFile], staging: str) -> Prepared:
    """Decompress what the writer cannot read, find files with bad lines, split those."""
    quarantine: list[QuarantineRow] = []
    for f in files:
        if f.foreign:
            quarantine.extend(quarantine_foreign(f.path))
    files = [f for f in files if not f.foreign]
    readable = [materialize(f.path, staging, writer.compressions) for f in files]
    problems = writer.problem_files(readable)
    clean: list[str] = []
    for src, path in zip(files, readable, strict=True):
        if path in problems:
            cleaned, bad, good = split_file(path, os.path.join(staging, "clean"))
            for row in bad:
                row.source_file = os.path.basename(src.path)
            quarantine.extend(bad)
            if good:
                clean.append(cleaned)
        else:
            clean.append(path)
    return Prepared(version, clean, quarantine, _dt.datetime.now(_dt.timezone.utc))
