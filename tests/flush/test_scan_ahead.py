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


def test_a_file_replaced_with_the_same_size_and_mtime_is_not_answered(tmp_path):
    """A file renamed over the scanned one (same size, same mtime: a restore that keeps
    times) is another file: the scan-ahead's result for the old one is not used."""
    good, _ = _files(tmp_path)
    ahead = ScanAhead([good], CHECKS)
    ahead._thread.join()
    st = os.stat(good)
    other = tmp_path / "other"
    other.write_bytes(b'\xef\xbb\xbf{"a"\n')  # 8 bytes, as '{"a":1}\n'
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, good)
    assert os.stat(good).st_size == st.st_size
    assert ahead.scanned(good) == (False, None)
    assert suspect(good, CHECKS) == "bom"


class _Context:
    def __init__(self):
        self.props = {}

    def getLocalProperty(self, key):
        return self.props.get(key)

    def setLocalProperty(self, key, value):
        self.props[key] = value


def test_a_flush_that_raises_stops_the_scan_ahead(tmp_path, monkeypatch):
    """An error (or Ctrl-C) inside the Spark writer's scope stops the scan-ahead thread
    before it propagates: the file being scanned finishes, no other is scanned after."""
    import threading
    from types import SimpleNamespace

    from laketrace.flush.spark import SparkWriter

    entered, go, calls, held = threading.Event(), threading.Event(), [], {}

    def slow_scan(path, checks):  # the first scan lasts until the scan-ahead is stopped
        calls.append(path)
        entered.set()
        go.wait(30)
        held["stop"].wait(30)
        return None

    monkeypatch.setattr("laketrace.flush.scan_ahead.suspect", slow_scan)
    good, bom = _files(tmp_path)
    writer = SparkWriter.__new__(SparkWriter)
    writer.spark = SimpleNamespace(sparkContext=_Context())
    writer._ahead = None
    try:
        with writer.scope():
            writer.scan_ahead([good, bom])
            assert writer._ahead is not None
            entered.wait(30)
            held["stop"] = writer._ahead._stop
            go.set()
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not writer._ahead._thread.is_alive()
    assert calls == [good]
