"""The CLI: `laketrace demo` and `laketrace tail`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from laketrace.cli import main


def test_demo_without_spark_flushes_and_summarises(tmp_path):
    """`python -m laketrace demo --no-spark` flushes with delta-rs and prints the summary."""
    pytest.importorskip("deltalake")
    out = subprocess.run(
        [sys.executable, "-m", "laketrace", "demo", "--workdir", str(tmp_path), "--no-spark"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "== Runs (logs_runs view) ==" in out.stdout
    assert "KeyError: 'apac'" in out.stdout  # the caught exception with its traceback
    assert (tmp_path / "lakehouse" / "laketrace_logs" / "_delta_log").is_dir()


def test_tail_filters_by_level_and_logger(make_logger, log_dir, capsys):
    """`laketrace tail --level ERROR --logger NAME` prints only matching records."""
    a = make_logger("svc.a")
    b = make_logger("svc.b")
    a.info("a info")
    a.error("a error")
    b.error("b error")
    assert main(["tail", "--log-dir", log_dir, "--level", "ERROR", "--logger", "svc.a"]) == 0
    out = capsys.readouterr().out
    assert "a error" in out and "a info" not in out and "b error" not in out


def test_tail_missing_dir_explains(tmp_path, capsys):
    """`laketrace tail` on a missing directory says what to pass."""
    assert main(["tail", "--log-dir", str(tmp_path / "nope")]) == 2
    assert "--log-dir" in capsys.readouterr().err


def test_follow_prints_new_records(make_logger, log_dir):
    """tail --follow prints records appended after it started, and only those."""
    import io

    from laketrace.read.follow import Follower

    log = make_logger()
    log.info("old")
    buf = io.StringIO()
    follower = Follower(log_dir, out=buf)
    assert follower.poll() == 0
    log.info("new one")
    assert follower.poll() == 1
    assert "new one" in buf.getvalue() and "old" not in buf.getvalue()


FORGED = "2026-01-01 00:00:00.000Z | INFO     | app:main:1 - all good"


def test_tail_and_follow_escape_control_characters(make_logger, log_dir, capsys):
    """`laketrace tail`, `log.tail` and follow print one escaped line per record, with the
    traceback on indented lines, whatever the spool holds."""
    import io

    from laketrace.read.follow import Follower

    log = make_logger()
    buf = io.StringIO()
    follower = Follower(log_dir, out=buf)
    log.info(f"x\x1b[2J\r{FORGED}\n{FORGED}", k=f"\n{FORGED}\x9b")
    try:
        raise ValueError(f"bad\n{FORGED}")
    except ValueError:
        log.exception("failed")
    assert main(["tail", "--log-dir", log_dir]) == 0
    via_method = io.StringIO()
    log.tail(file=via_method)
    assert follower.poll() == 2
    for out in (capsys.readouterr().out, via_method.getvalue(), buf.getvalue()):
        lines = out.rstrip("\n").split("\n")
        assert len([ln for ln in lines if not ln.startswith("  ")]) == 2, out
        assert "\x1b" not in out and "\r" not in out and "\x9b" not in out
        assert f"  {FORGED}" in lines
