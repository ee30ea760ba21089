"""One damaged file never stops the pipeline (delta-rs writer): hostile lines follow the one
rule, damaged and unreadable files ship what can be read, missing files are recorded."""

from __future__ import annotations

import os
import zipfile

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from laketrace import flush_to_delta
from laketrace.flush import faults as flush_faults
from laketrace.flush.scan import suspect
from laketrace.flush.validate import validate_line
from laketrace.sinks.lifecycle import compress_file
from laketrace.spool import read as spool_read
from laketrace.testing import read_delta

from .cases import (
    EXTRA_KEY_CASES,
    FILE_CASES,
    LINE_CASES,
    SPARK_LIMIT_CASES,
    STAMP,
    check_file_case,
    check_line_cases,
    line,
    write_line_cases,
)


def _tables(target):
    rows = read_delta(target).to_pylist()
    q = target + "_quarantine"
    return rows, (read_delta(q).to_pylist() if os.path.isdir(q) else [])


def _spool_file(log_dir, seq, n, prefix):
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, f"f__{STAMP}__run__3__{seq:06d}.sealed.jsonl")
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(line(f"{prefix}-{i}") + "\n")
    return path


@pytest.mark.parametrize(
    "case", LINE_CASES + EXTRA_KEY_CASES + SPARK_LIMIT_CASES, ids=lambda c: c.name
)
def test_one_rule_on_each_line_case(case):
    """validate_line accepts or rejects each hostile line, with a reason that says why."""
    reason = validate_line(case.text + b"\n")
    assert (reason is None) == case.ok, reason
    if not case.ok:
        assert case.reason.lower() in reason.lower()


@pytest.mark.parametrize("duckdb", [True, False], ids=["duckdb", "python"])
def test_delta_rs_writer_agrees_with_the_rule(log_dir, tmp_path, monkeypatch, duckdb):
    """Every line case loads or is quarantined exactly as the one rule says, ts offsets are
    converted to UTC (date too), with DuckDB and with the pure-Python reader."""
    if not duckdb:
        monkeypatch.setattr("laketrace.flush.delta_rs._duckdb", lambda: None)
    cases = write_line_cases(log_dir, SPARK_LIMIT_CASES)
    target = str(tmp_path / "t")
    res = flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    assert check_line_cases(cases, rows, q) == []
    assert res.quarantined == len(q) == sum(not c.ok for c in LINE_CASES)


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.name)
def test_damaged_file_ships_what_can_be_read(log_dir, tmp_path, case):
    """A damaged or unreadable file does not stop the flush: its readable lines ship, one
    row says what was wrong, the other files ship, and the next flush adds nothing."""
    _spool_file(log_dir, 1, 5, "ok")
    fname = case.build(log_dir)
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    assert check_file_case(case, fname, rows, q) == []
    assert sorted(r["record_id"] for r in rows if r["record_id"].startswith("ok-")) == [
        f"ok-{i}" for i in range(5)
    ]
    again = flush_to_delta(log_dir=log_dir, path=target)
    assert (again.records, again.quarantined) == (0, 0)
    assert _tables(target)[1] == q


def test_unreadable_file_gets_one_row(log_dir, tmp_path, monkeypatch):
    """A file that cannot be opened (permission denied; simulated, as tests run as root)
    gets one quarantine row naming it, and the rest of the batch ships."""
    _spool_file(log_dir, 1, 3, "ok")
    locked = _spool_file(log_dir, 2, 3, "locked")
    real = spool_read.open_regular

    def deny(path):
        if os.path.basename(path) == os.path.basename(locked):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(spool_read, "open_regular", deny)
    monkeypatch.setattr("laketrace.flush.scan.open_regular", deny)
    target = str(tmp_path / "t")
    res = flush_to_delta(log_dir=log_dir, path=target)
    q = _tables(target)[1]
    assert (res.records, res.quarantined) == (3, 1)
    assert [(r["source_file"], r["line_no"]) for r in q] == [(os.path.basename(locked), None)]
    assert "Permission denied" in q[0]["reason"]


class _Crash(BaseException):
    pass


def _crash_at(point):
    def hook(p):
        if p == point:
            raise _Crash

    return hook


def _crashed_flush(log_dir, target, point):
    flush_faults.fault_hook = _crash_at(point)
    try:
        with pytest.raises(_Crash):
            flush_to_delta(log_dir=log_dir, path=target)
    finally:
        flush_faults.fault_hook = None


def test_planned_file_that_disappeared_is_recorded_missing(log_dir, tmp_path, capfd):
    """A planned file deleted before it was read: one WARNING, one 'missing' row, a result
    field, and the rest of the batch ships (today: FlushError on every flush)."""
    keep = _spool_file(log_dir, 1, 4, "keep")
    gone = _spool_file(log_dir, 2, 4, "gone")
    target = str(tmp_path / "t")
    _crashed_flush(log_dir, target, "after_plan")
    os.unlink(gone)
    capfd.readouterr()
    res = flush_to_delta(log_dir=log_dir, path=target)
    err = capfd.readouterr().err
    assert res.missing == [os.path.basename(gone)] and res.records == 4
    assert err.count("WARNING LakeTrace flush") == 1 and os.path.basename(gone) in err
    rows, q = _tables(target)
    assert sorted(r["record_id"] for r in rows) == [f"keep-{i}" for i in range(4)]
    assert [(r["source_file"], r["line_no"]) for r in q] == [(os.path.basename(gone), None)]
    assert q[0]["reason"].startswith("missing")
    assert flush_to_delta(log_dir=log_dir, path=target).records == 0
    assert os.path.exists(keep)


def test_file_deleted_after_it_was_held_still_ships(log_dir, tmp_path):
    """Files are held (hard-linked) before the commit: a crash, then deleting the file,
    still ships its records, once."""
    path = _spool_file(log_dir, 1, 6, "held")
    target = str(tmp_path / "t")
    _crashed_flush(log_dir, target, "before_commit")
    os.unlink(path)
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.records == 6 and res.missing == []
    assert sorted(r["record_id"] for r in _tables(target)[0]) == [f"held-{i}" for i in range(6)]


def test_file_compressed_between_listing_and_reading_ships_once(log_dir, tmp_path):
    """A live logger compressing a planned file (it becomes .gz) does not crash the flush:
    the file ships once, from the .gz."""
    path = _spool_file(log_dir, 1, 7, "gz")
    target = str(tmp_path / "t")

    def compress(point):
        if point == "after_plan" and os.path.exists(path):
            compress_file(path, "gz")

    flush_faults.fault_hook = compress
    try:
        res = flush_to_delta(log_dir=log_dir, path=target)
    finally:
        flush_faults.fault_hook = None
    assert res.records == 7 and res.missing == [] and res.quarantined == 0
    assert os.listdir(log_dir).count(os.path.basename(path) + ".gz") == 1
    assert flush_to_delta(log_dir=log_dir, path=target).records == 0
    assert len(_tables(target)[0]) == 7


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b'{"a":1}\n', None),
        (b'{"a":1}', "tail"),
        (b'{"a":"\xff"}\n', "utf8"),
        (b'\xef\xbb\xbf{"a":1}\n', "bom"),
        (b'{"a":"\xc3\xa9"}\n{"a":"\xef\xbb\xbf"}\n', "bom"),
        (b'{"a":"x\\"y\\n"}\n', None),
        (b'{"a":"\\udc00"}\n', "surrogate"),
        (b'{"a":NaN}\n', "nan"),
        (b'{"a":"NaN"}\n', None),
        (b'{"a":' + b"[" * 65 + b"]" * 65 + b"}\n", "depth"),
    ],
)
def test_byte_scan_flags_what_engines_accept_too_easily(tmp_path, data, found):
    """The byte scan sends exactly the suspicious files to line-by-line validation."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    checks = frozenset({"utf8", "bom", "surrogate", "nan", "depth"})
    assert suspect(str(path), checks) == found


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.name)
def test_reading_records_back_never_raises_for_damaged_files(log_dir, case):
    """tail/query-side reading (read_records) yields what a damaged or special file holds
    and never raises or blocks (a FIFO is not opened for reading)."""
    os.makedirs(log_dir)
    fname = case.build(log_dir)
    records = list(spool_read.read_records(os.path.join(log_dir, fname)))
    assert all(r["record_id"].startswith(case.prefix + "-") for r in records)
    assert bool(records) == case.partial


def test_zip_with_several_members_ships_every_member(log_dir, tmp_path):
    """An archive made by hand with several members (an empty one first, one without a
    final newline, a directory, data under a directory's name) loses none of them: they
    are read one after another, their lines kept apart, and line numbers run on across
    members."""
    os.makedirs(log_dir)
    path = os.path.join(log_dir, f"zm__{STAMP}__run__6__000001.sealed.jsonl.zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("empty.jsonl", b"")
        zf.writestr("sub/", b"")
        zf.writestr("a.jsonl", (line("zm-a0") + "\n" + line("zm-a1")).encode())
        zf.writestr(
            "b.jsonl", (line("zm-b0") + "\n" + "not json\n" + line("zm-b1") + "\n").encode()
        )
        zf.writestr("odd/", (line("zm-d0") + "\n").encode())  # a directory name, with data
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    assert sorted(r["record_id"] for r in rows) == ["zm-a0", "zm-a1", "zm-b0", "zm-b1", "zm-d0"]
    assert [(r["line_no"], "not valid JSON" in r["reason"]) for r in q] == [(4, True)]
    records = list(spool_read.read_records(path))
    assert [r["record_id"] for r in records] == ["zm-a0", "zm-a1", "zm-b0", "zm-b1", "zm-d0"]


def test_zip_with_a_bad_crc_in_a_later_member_ships_the_members_before(log_dir, tmp_path):
    os.makedirs(log_dir)
    path = os.path.join(log_dir, f"zc__{STAMP}__run__6__000002.sealed.jsonl.zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.jsonl", (line("zc-a0") + "\n").encode())
        zf.writestr("b.jsonl", (line("zc-b0") + "\n").encode())
    data = bytearray(open(path, "rb").read())
    at = data.index(b'zc-b0","msg":"') + len(b'zc-b0","msg":"')
    data[at : at + 1] = b"M"  # a stored byte of the second member changed: its CRC fails
    open(path, "wb").write(bytes(data))
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    assert [r["record_id"] for r in rows] == ["zc-a0"]
    assert len(q) == 1 and q[0]["line_no"] == 2 and "damaged file" in q[0]["reason"]


class _FullDisk:
    """A staging file whose disk fills after ``room`` bytes (ENOSPC on write)."""

    def __init__(self, fh, room):
        self._fh, self._room = fh, room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(28, "No space left on device")
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


@pytest.mark.parametrize("kind", ["split", "gz"])
def test_a_full_disk_while_staging_stops_the_flush_and_loses_nothing(
    log_dir, tmp_path, monkeypatch, kind
):
    """A staging copy that cannot be written (the local disk is full) is not damage of the
    spool file: the flush raises, quarantines nothing, leaves no part copy filling the disk,
    and the next flush ships every line once (it once shipped the lines before and
    quarantined the rest as a damaged file)."""
    from laketrace.flush import prepare

    path = _spool_file(log_dir, 1, 50, kind)
    if kind == "split":  # a NUL makes the byte scan send the file line by line
        with open(path, "ab") as fh:
            fh.write(b"\0" + line(f"{kind}-50").encode() + b"\n")
    else:
        compress_file(path, "gz")
    real = prepare.open_private_file
    monkeypatch.setattr(prepare, "open_private_file", lambda p: _FullDisk(real(p), 2000))
    target = str(tmp_path / "t")
    with pytest.raises(OSError, match="No space left"):
        flush_to_delta(log_dir=log_dir, path=target)
    assert not os.path.isdir(target + "_quarantine")
    staging = os.path.join(log_dir, "_laketrace", "staging")
    copies = [f for d, _, fs in os.walk(staging) for f in fs if "held" not in d]
    assert copies == []  # the part copy is removed: the disk is not kept full until then
    monkeypatch.setattr(prepare, "open_private_file", real)
    res = flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    ids = sorted(r["record_id"] for r in rows)
    assert ids == sorted(f"{kind}-{i}" for i in range(50 + (kind == "split")))
    assert res.records == len(ids) and len(q) == (kind == "split")


def test_a_full_disk_while_halving_leaves_no_temp_file(tmp_path, monkeypatch):
    """A temp file DuckDB's rejected lines are halved through that cannot be written (a
    full disk) stops the flush and is removed; it is never taken for a rejected line."""
    duckdb = pytest.importorskip("duckdb")
    import pyarrow as pa

    from laketrace.flush import duck_read

    src = tmp_path / "f.jsonl"
    src.write_text(line("h-0") + "\n" + line("h-1") + "\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    real = duck_read.tempfile.NamedTemporaryFile

    def full(*args, **kw):
        return _FullDisk(real(*args, dir=scratch, **kw), 0)

    monkeypatch.setattr(duck_read.tempfile, "NamedTemporaryFile", full)
    with pytest.raises(OSError, match="No space left"):
        duck_read.DuckReader(duckdb, pa).rejects(str(src))
    assert os.listdir(scratch) == []


@pytest.mark.parametrize("err", ["EMFILE", "ENFILE", "ENOMEM"])
@pytest.mark.parametrize("kind", ["plain", "gz", "foreign"])
def test_out_of_file_descriptors_or_memory_stops_the_flush(
    log_dir, tmp_path, monkeypatch, err, kind
):
    """Running out of file descriptors or memory while opening a spool file is the
    machine's state, not the file's: the flush raises and quarantines nothing, and the
    next flush ships the file (a 'could not read the file' row would have closed it for
    good, its records never loaded)."""
    import errno

    _spool_file(log_dir, 1, 3, "ok")
    path = _spool_file(log_dir, 2, 3, kind)
    if kind == "gz":
        path = compress_file(path, "gz")
    elif kind == "foreign":
        os.rename(path, os.path.join(log_dir, "notes.txt"))
        path = os.path.join(log_dir, "notes.txt")
    real = spool_read.open_regular

    def exhausted(p):
        if os.path.basename(p) == os.path.basename(path):
            raise OSError(getattr(errno, err), os.strerror(getattr(errno, err)), p)
        return real(p)

    monkeypatch.setattr(spool_read, "open_regular", exhausted)
    monkeypatch.setattr("laketrace.flush.scan.open_regular", exhausted)
    monkeypatch.setattr("laketrace.flush.prepare.open_regular", exhausted)
    target = str(tmp_path / "t")
    with pytest.raises(OSError) as raised:
        flush_to_delta(log_dir=log_dir, path=target)
    assert raised.value.errno == getattr(errno, err)
    assert not os.path.isdir(target + "_quarantine")
    monkeypatch.undo()
    res = flush_to_delta(log_dir=log_dir, path=target)
    rows, q = _tables(target)
    if kind == "foreign":
        assert (res.records, len(q)) == (3, 3)
    else:
        assert sorted(r["record_id"] for r in rows) == sorted(
            [f"ok-{i}" for i in range(3)] + [f"{kind}-{i}" for i in range(3)]
        )
        assert q == []
