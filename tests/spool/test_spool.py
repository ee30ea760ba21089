"""The spool: file names, permissions, path safety, one complete JSON object per line."""

from __future__ import annotations

import decimal
import json
import os

import pytest

from laketrace import get_logger
from laketrace.schema import SPOOL_COLUMNS
from laketrace.spool.names import list_spool, parse_spool_name, safe_name

from ..conftest import files_in as _files_in
from ..conftest import spool_lines, spool_records


def files_in(directory: str) -> list[str]:
    """The entries of ``directory`` without LakeTrace's internal ``_laketrace`` folder."""
    return [n for n in _files_in(directory) if n != "_laketrace"]


def test_file_name_carries_logger_run_and_pid(make_logger, log_dir):
    """The spool file name carries the safe logger name, run id and pid."""
    log = make_logger("etl.daily", run_id="app-123")
    log.info("x")
    (name,) = files_in(log_dir)
    assert name.endswith(".jsonl") and not name.endswith(".sealed.jsonl")
    parsed = parse_spool_name(name)
    assert parsed is not None
    assert (parsed.logger, parsed.run_id, parsed.pid) == ("etl.daily", "app-123", os.getpid())
    log.close()
    (sealed,) = files_in(log_dir)
    assert sealed.endswith(".sealed.jsonl")


def test_spool_file_mode_is_0600(make_logger, log_dir):
    """Spool files are created readable and writable by the owner only."""
    log = make_logger()
    log.info("secret-ish")
    (name,) = files_in(log_dir)
    assert os.stat(os.path.join(log_dir, name)).st_mode & 0o777 == 0o600


def test_spool_file_mode_survives_permissive_umask(make_logger, log_dir):
    """A permissive umask does not widen spool file permissions."""
    old = os.umask(0)
    try:
        log = make_logger()
        log.info("x")
    finally:
        os.umask(old)
    (name,) = files_in(log_dir)
    assert os.stat(os.path.join(log_dir, name)).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "evil",
    ["../../etc/passwd", "/abs/path", "a/../../b", "..", "x\x00y", "con:nul", "\\..\\win", "~"],
)
def test_logger_names_cannot_escape_log_dir(evil, log_dir):
    """No logger name can make a spool path outside log_dir."""
    log = get_logger(evil, {"log_dir": log_dir, "stdout": False})
    log.info("contained")
    log.close()
    files = files_in(log_dir)
    assert len(files) == 1
    assert "/" not in files[0] and ".." not in files[0].split("__")[0]
    assert spool_records(log_dir)[0]["logger"] == evil
    from laketrace.log import registry

    registry.forget(evil)


def test_safe_name_properties():
    """safe_name never returns separators, '..', or an empty string."""
    for raw in ["", "..", "a/b", "a\\b", "...x...", "ü-名字", "a__b", "x" * 500]:
        s = safe_name(raw)
        assert s and "/" not in s and "\\" not in s and ".." not in s and "__" not in s
        assert len(s) <= 80


def test_newlines_and_control_chars_stay_on_one_line(make_logger, log_dir):
    """Newlines, CR, NUL, escapes and U+2028 in messages and fields never split a line."""
    log = make_logger()
    nasty = "line1\nline2\r\n\x00\x1b[31m\u2028end"
    log.info(nasty, field=nasty)
    log.close()
    (line,) = spool_lines(log_dir)
    rec = json.loads(line)
    assert rec["msg"] == nasty and rec["context"]["field"] == nasty


def test_two_megabyte_message(make_logger, log_dir):
    """A 2 MB message is written as one complete line and reads back intact."""
    log = make_logger()
    big = "x" * (2 * 1024 * 1024)
    log.info(big)
    log.info("after")
    log.close()
    recs = spool_records(log_dir)
    assert len(recs) == 2 and recs[0]["msg"] == big and recs[1]["msg"] == "after"


def test_odd_field_values_never_raise(make_logger, log_dir):
    """Fields of any type log without raising and produce valid JSON lines."""

    class Broken:
        def __repr__(self):
            raise RuntimeError("nope")

    log = make_logger()
    log.info("odd", d=decimal.Decimal("2.5"), b=b"\xff", s={1, 2}, o=Broken(), n=float("nan"))
    log.info("odd key", **{"weird key": 1})
    log.close()
    rec = spool_records(log_dir)[0]
    assert rec["context"]["d"] == '"2.5"'
    assert rec["context"]["s"] == "[1,2]"
    assert rec["context"]["o"] == '"<unprintable Broken: RuntimeError: nope>"'


def test_every_spool_line_has_every_spool_column(make_logger, log_dir):
    """Each spool line carries exactly the spool columns of the lake schema."""
    log = make_logger()
    log.info("plain")
    try:
        raise ValueError("x")
    except ValueError:
        log.exception("with exception")
    log.close()
    for rec in spool_records(log_dir):
        assert set(rec) == set(SPOOL_COLUMNS)


def test_sealed_names_sort_by_creation(make_logger, log_dir, clock):
    """Sealed file names sort in creation order."""
    log = make_logger(clock=clock)
    for i in range(3):
        log.info("file {}", i)
        log.close()
        clock.advance(1)
    files = list_spool(log_dir)
    assert [os.path.basename(p) for p, _ in files] == sorted(files_in(log_dir))
    msgs = [spool_records(log_dir)[i]["msg"] for i in range(3)]
    assert msgs == ["file 0", "file 1", "file 2"]


def test_foreign_files_are_not_spool_files(log_dir):
    """Files that do not follow the naming scheme are not listed as spool files."""
    os.makedirs(log_dir, exist_ok=True)
    open(os.path.join(log_dir, "notes.txt"), "w").close()
    open(os.path.join(log_dir, "x.jsonl"), "w").close()
    assert list_spool(log_dir) == []


def test_empty_file_is_not_left_behind(make_logger, log_dir):
    """Closing a logger that never logged leaves no file."""
    log = make_logger()
    log.close()
    assert files_in(log_dir) == []
