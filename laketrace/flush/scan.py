"""A fast byte-level scan for spool files a writer's JSON engine would judge more leniently
than `laketrace.flush.validate` (the one rule).

DuckDB accepts ``NaN`` and any nesting depth; Spark's JSON reader decodes invalid UTF-8
to U+FFFD, decodes a lone ``\\ud800`` escape, skips a leading byte-order mark and nests up
to 1,000 levels. Neither can see a missing final newline, and a line too long to load
(`validate.MAX_LINE`) must not be held whole. A file in which the scan finds any of these
is validated line by line with the one rule instead (`prepare.split_file`); every other
file goes to the engine as it is. The scan runs at memory speed (a few passes of C code
per 4 MiB chunk), so clean files cost little.
"""

from __future__ import annotations

import re

from ..spool.read import open_regular
from . import validate as _validate
from .validate import MAX_DEPTH

#: 4 MiB chunks measured faster than 8 MiB (they stay in cache between the passes)
CHUNK = 4 << 20

_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_NONNUMERIC = re.compile(rb"[:,\[]\s*-?(?:NaN|Infinity)")
# a compiled literal searches ~2x faster than ``bytes in bytes`` here
_NAN = re.compile(rb"NaN")
_INFINITY = re.compile(rb"Infinity")
_OPENERS_ONLY = bytes(range(256)).translate(None, b"{[\n")
_DEEP = re.compile(rb"[^\n]{%d}" % (MAX_DEPTH + 1))


def _flagged(data: bytes, checks: frozenset[str]) -> str | None:
    text = None
    if "utf8" in checks:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return "utf8"
    if "nul" in checks and b"\0" in data:
        return "nul"  # damage (a zeroed page): split so the record after it is kept
    if "bom" in checks:
        # in valid UTF-8 the bytes EF BB BF only ever spell U+FEFF, and a str search for
        # U+FEFF in ASCII text is answered without reading it (~4 ms per 4 MiB in bytes)
        if ("\ufeff" in text) if text is not None else (b"\xef\xbb\xbf" in data):
            return "bom"
    # a single-byte search (memchr) rules out most chunks before the regex runs
    if "surrogate" in checks and b"\\" in data and _SURROGATE.search(data):
        return "surrogate"
    maybe_nan = "nan" in checks and (_NAN.search(data) or _INFINITY.search(data))
    if maybe_nan and _NONNUMERIC.search(data):
        return "nan"
    if "depth" in checks and _DEEP.search(data.translate(None, _OPENERS_ONLY)):
        return "depth"
    return None


def suspect(path: str, checks: frozenset[str]) -> str | None:
    """Which check ``path`` fails (or ``"tail"``: no newline at the end; ``"long"``: a line
    over `validate.MAX_LINE`), else None.

    A file that cannot be read is a suspect too (the line-by-line pass reports why).
    """
    try:
        with open_regular(path) as fh:
            last = b"\n"
            while True:
                # (a chunk no longer than a line may be: every line that ends inside it
                # is short enough, only the one running past its end needs a count)
                data = fh.read(min(CHUNK, _validate.MAX_LINE))
                if not data:
                    return None if last.endswith(b"\n") else "tail"
                # whole lines only, and no more than a line may hold: a longer line
                # (`validate.MAX_LINE`) is quarantined unread by `prepare.split_file`
                start = data.rfind(b"\n") + 1
                more = fh.readline(_validate.MAX_LINE + 1)
                if len(data) - start + len(more) > _validate.MAX_LINE:
                    return "long"
                data += more
                last = data
                hit = _flagged(data, checks)
                if hit:
                    return hit
    except OSError:
        return "unreadable"
