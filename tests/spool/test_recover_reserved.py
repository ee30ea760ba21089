"""`recover` cuts only the reserved NUL tail of a dead memory-mapped writer's file: a NUL
inside the data (a zeroed page, a damaged byte) never makes the records after it vanish."""

from __future__ import annotations

import os

import pytest

from laketrace import recover
from laketrace.spool.read import reserved_tail

from ..conftest import spool_records

_REC = b'"ts":"2025-11-28T13:20:00Z","level":"INFO","context":{},"record_id":"rid-%d"'
NAME = "dead__20251128T132000000000Z__run__999999__000001.jsonl"


def _dead_file(log_dir: str, body: bytes, reserved: int = 5000) -> str:
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, NAME)
    with open(path, "wb") as fh:
        fh.write(body + b"\0" * reserved)
    return path


def _lines(n: int, damaged: int | None = None) -> bytes:
    out = []
    for i in range(n):
        line = b'{"msg":"r%d","level_no":20,%s}\n' % (i, _REC % i)
        if i == damaged:
            line = line[:3] + b"\0" + line[4:]
        out.append(line)
    return b"".join(out)


def test_a_nul_inside_the_data_keeps_the_records_after_it(log_dir):
    """A dead writer's file with a NUL in record 5 keeps records 6..9 when recovered (only
    the trailing reserved run is cut); the damaged line stays for the flush's quarantine."""
    body = _lines(10, damaged=5)
    _dead_file(log_dir, body)
    (sealed,) = recover(log_dir).sealed
    assert open(sealed, "rb").read() == body
    msgs = [r["msg"] for r in spool_records(log_dir)]
    assert msgs == [f"r{i}" for i in range(10) if i != 5]


def test_a_torn_record_before_the_reserved_tail_is_kept(log_dir):
    """The record a kill cut short ends the recovered file (no NULs), as before."""
    body = _lines(3) + b'{"msg":"tor'
    _dead_file(log_dir, body)
    (sealed,) = recover(log_dir).sealed
    assert open(sealed, "rb").read() == body


def test_reserved_tail_positions(tmp_path):
    """reserved_tail: the start of the trailing NUL run, None without one, 0 for all NULs,
    also when the run spans more than one read block."""
    cases = {
        b"abc\n": None,
        b"abc\n\0\0": 4,
        b"a\0b\n\0": 4,
        b"\0\0\0": 0,
        b"x\n" + b"\0" * (3 << 20): 2,
    }
    for data, want in cases.items():
        path = tmp_path / "f"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert reserved_tail(fd) == want, data[:8]
        finally:
            os.close(fd)


def test_flush_ships_the_records_after_a_nul_and_quarantines_its_line(log_dir, tmp_path):
    """End to end with delta-rs: 9 records shipped, the damaged line in the quarantine."""
    pytest.importorskip("deltalake")
    from laketrace import flush_to_delta
    from laketrace.testing import read_delta

    _dead_file(log_dir, _lines(10, damaged=5))
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    msgs = sorted(read_delta(target, ["msg"]).column("msg").to_pylist())
    assert msgs == sorted(f"r{i}" for i in range(10) if i != 5)
    raw = read_delta(target + "_quarantine", ["raw_line"]).column("raw_line").to_pylist()
    assert len(raw) == 1 and "5" in raw[0]


def test_an_unsealed_compressed_file_is_left_alone(log_dir):
    """A "<name>.jsonl.gz" without ".sealed" (compressed by hand or by a foreign tool) is not
    an active file: its gzip trailer (which ends in NULs) is not cut and it is not renamed
    to a "<name>.js.sealed.jsonl" that the flush then quarantines as foreign."""
    import gzip

    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, NAME + ".gz")
    data = gzip.compress(_lines(3), mtime=0)
    assert data.endswith(b"\0")
    with open(path, "wb") as fh:
        fh.write(data)
    res = recover(log_dir)
    assert res.sealed == []
    with open(path, "rb") as fh:
        assert fh.read() == data


@pytest.mark.parametrize("zeroed", [10, 128 * 1024])
def test_a_zeroed_run_does_not_swallow_the_record_after_it(log_dir, tmp_path, zeroed):
    """A run of NULs without a newline (a zeroed page) runs into the next record's line: the
    record after the NULs ships (a 128 KiB run left it only in a 64 KiB raw_line, i.e.
    lost), the NUL part is quarantined, and a second flush adds nothing."""
    pytest.importorskip("deltalake")
    from laketrace import flush_to_delta
    from laketrace.testing import read_delta

    body = _lines(3)
    first = body.index(b"\n") + 1
    _dead_file(log_dir, body[:first] + b"\0" * zeroed + body[first:])
    target = str(tmp_path / "t")
    flush_to_delta(log_dir=log_dir, path=target)
    flush_to_delta(log_dir=log_dir, path=target)
    msgs = sorted(read_delta(target, ["msg"]).column("msg").to_pylist())
    assert msgs == ["r0", "r1", "r2"]
    q = read_delta(target + "_quarantine", ["line_no", "reason"]).to_pylist()
    assert [r["line_no"] for r in q] == [2] and "NUL" in q[0]["reason"]
