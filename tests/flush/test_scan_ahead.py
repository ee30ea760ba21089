"""The Spark writer's scan-ahead: byte scans of the first files, used only for the very
files scanned."""

from __future__ import annotations

import os

from laketrace.flush.scan import suspect
from laketrace.flush.scan_ahead import ScanAhead

CHECKS = frozenset({"utf8", "bom", "surrogate", "depth", "nul"})


def _files(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_bytes(b'{"a":1}\n')
    bom = tmp_path / "b.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"a":1}\n')
    return str(good), str(bom)


def test_scan_ahead_gives_the_scan_of_each_file_it_reached(tmp_path):
    """A file scanned ahead answers with the byte scan's own result, clean or flagged."""
    good, bom = _files(tmp_path)
    ahead = ScanAhead([good, bom], CHECKS)
    ahead._thread.join()  # let it reach every file
    assert ahead.scanned(good) == (True, suspect(good, CHECKS)) == (True, None)
    assert ahead.scanned(bom) == (True, "bom")


def test_a_changed_or_unknown_file_is_not_answered_from_the_scan_ahead(tmp_path):
    """A file changed since the scan, or one it was not given, is scanned the ordinary way."""
    good, bom = _files(tmp_path)
    ahead = ScanAhead([good], CHECKS)
    ahead._thread.join()
    with open(good, "ab") as fh:
        fh.write(b'\xef\xbb\xbf{"a":2}\n')
    assert ahead.scanned(good) == (False, None)
    assert ahead.scanned(bom) == (False, None)
    assert ahead.scanned(os.path.join(str(tmp_path), "gone.jsonl")) == (False, None)


def test_stopped_scan_ahead_scans_no_more_files(tmp_path):
    """After the first answer (or the flush's end) the thread stops: no scan runs later."""
    good, bom = _files(tmp_path)
    ahead = ScanAhead([good, bom], CHECKS)
    ahead.stop()
    assert not ahead._thread.is_alive()
    known = dict(ahead._results)
    ahead.scanned(bom)
    assert ahead._results == known
