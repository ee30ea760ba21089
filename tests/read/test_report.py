"""`laketrace report`: a self-contained HTML page, checked as text and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")
pytest.importorskip("plotly")

import laketrace
from laketrace.cli import main
from laketrace.read.report import collect, write_report

RUNS = ("nightly-2025-11-28", "nightly-2025-11-29")
HOSTILE = "<img src=x onerror=alert(1)></script>"


@pytest.fixture
def table(make_logger, log_dir, tmp_path, clock):
    """Two runs over several minutes, with errors, one exception and a hostile message."""
    for run in RUNS:
        log = make_logger(clock=clock, run_id=run)
        for minute in range(3):
            for i in range(5 + minute):
                log.info("batch {} step {}", minute, i)
            log.warning("slow partition", minute=minute)
            clock.advance(60)
        log.error("upstream table missing: sales")
        log.error(HOSTILE)
        try:
            {}["apac"]
        except KeyError:
            log.exception("currency rate missing")
        log.close()
        clock.advance(3600)
    path = str(tmp_path / "table")
    laketrace.flush_to_delta(log_dir=log_dir, path=path)
    return path


def test_collect_counts_match_the_table(table):
    """Runs, per-minute counts, top errors and exceptions come from the table as logged."""
    data = collect(path=table)
    assert [r["run_id"] for r in data["runs"]] == list(reversed(RUNS))  # newest first
    per_run = {}
    for row in data["timeline"]:
        per_run[row["run_id"]] = per_run.get(row["run_id"], 0) + row["n"]
    assert per_run == {run: 5 + 6 + 7 + 3 + 3 for run in RUNS}
    top = {r["msg"]: (r["n"], r["runs"]) for r in data["top_errors"]}
    assert top["upstream table missing: sales"] == (2, 2)
    assert len(data["exceptions"]) == 2
    assert "KeyError: 'apac'" in data["exceptions"][0]["traceback"]


def test_cli_writes_a_self_contained_escaped_page(table, tmp_path, capsys):
    """The page embeds plotly.js, names every run, escapes log text, loads nothing remote."""
    out = tmp_path / "site" / "report.html"
    assert main(["report", "--path", table, "--out", str(out)]) == 0
    assert "2 run(s)" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    for run in RUNS:
        assert run in page
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is inline
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=['\"]?(https?:)?//", page)


def test_report_errors_teach(tmp_path, capsys):
    """A missing table, a catalog table without Spark or a bad --runs: clear errors."""
    assert main(["report", "--path", str(tmp_path / "nope"), "--out", "x.html"]) == 2
    assert "no Delta table" in capsys.readouterr().err
    assert main(["report", "--table", "main.ops.app_logs", "--out", "x.html"]) == 2
    err = capsys.readouterr().err
    assert "reading the catalog table 'main.ops.app_logs' needs Spark" in err and "--path" in err
    with pytest.raises(ValueError, match="--runs"):
        write_report(tmp_path / "r.html", path=str(tmp_path), runs=0)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _png_colors(png: bytes) -> int:
    """How many distinct pixel values a (non-interlaced, 8-bit RGB/RGBA) PNG has."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            channels = {2: 3, 6: 4}[body[9]]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, seen = zlib.decompress(idat), width * channels + 1, set()
    for y in range(0, height, 7):  # a sample of rows, unfiltered bytes are enough here
        row = raw[y * stride + 1 : (y + 1) * stride]
        seen.update(row[i : i + channels] for i in range(0, len(row), channels * 5))
    return len(seen)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(table, tmp_path):
    """Chromium (offline) draws every timeline, shows every run id and fetches nothing."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("LAKETRACE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed: ./scripts/setup installs it (apt chromium)")
        pytest.skip("chromium is not installed (./scripts/setup installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "report.html"
    write_report(out, path=table)
    remote: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on(
                "request",
                lambda req: (
                    None if req.url.startswith(("file:", "data:")) else remote.append(req.url)
                ),
            )
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(out.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            for run in RUNS:
                assert page.get_by_role("heading", name=run).is_visible()
                assert page.get_by_text(run, exact=True).first.is_visible()
            assert page.locator("div[data-rendered='1'] svg.main-svg").count() >= len(RUNS)
            bars = page.locator("g.trace.bars path").count()
            assert bars >= 2 * 3  # INFO bars for three minutes in each run, at least
        finally:
            browser.close()
    assert errors == []
    assert remote == []
    assert _png_colors(shot) > 20  # a drawn page, not a blank one


def test_time_bins_follow_the_run_length(make_logger, log_dir, tmp_path, clock):
    """A 12-second run is drawn in 1 s bins (one bar per second that had records), a
    5-hour run in 5 min bins; the page names each run's bin."""
    short = make_logger(clock=clock, run_id="short-run")
    for _ in range(12):
        short.info("tick")
        short.info("tock")
        clock.advance(1)
    short.close()
    clock.advance(3600)
    long = make_logger(clock=clock, run_id="long-run")
    for _ in range(6):
        long.warning("hourly")
        clock.advance(3600)
    long.close()
    path = str(tmp_path / "bins")
    laketrace.flush_to_delta(log_dir=log_dir, path=path)
    data = collect(path=path)
    assert data["bins"] == {"short-run": 1, "long-run": 300}
    short_rows = [r for r in data["timeline"] if r["run_id"] == "short-run"]
    assert len(short_rows) == 12 and {r["n"] for r in short_rows} == {2}
    long_rows = [r for r in data["timeline"] if r["run_id"] == "long-run"]
    assert len(long_rows) == 6 and all(r["bucket"].timestamp() % 300 == 0 for r in long_rows)
    out = tmp_path / "r.html"
    write_report(out, path=path)
    page = out.read_text(encoding="utf-8")
    assert "per 1 s" in page and "per 5 min" in page and "1 s bins" in page


def test_spark_warnings_and_errors_per_run_next_to_the_apps(make_logger, log_dir, tmp_path):
    """logs_spark groups Spark's own warnings/errors per run; logs_runs counts them; the page
    lists them (escaped) beside the application's errors."""
    from laketrace.log import ExternalSource

    log = make_logger(run_id="run-s")
    jvm = ExternalSource(log.name, source="spark")
    for _ in range(3):
        jvm.emit("WARNING", "Lost executor 1 on host-a", logger_name="o.a.s.scheduler.Dag")
    jvm.emit("ERROR", HOSTILE, logger_name="o.a.s.executor.Executor")
    log.error("app failed")
    log.close()
    path = str(tmp_path / "t")
    laketrace.flush_to_delta(log_dir=log_dir, path=path)
    rows = laketrace.query(
        "SELECT level, logger, msg, n FROM logs_spark ORDER BY level_no DESC", path=path
    ).to_pylist()
    assert rows == [
        {"level": "ERROR", "logger": "o.a.s.executor.Executor", "msg": HOSTILE, "n": 1},
        {"level": "WARNING", "logger": "o.a.s.scheduler.Dag", "msg": "Lost executor 1 on host-a",
         "n": 3},
    ]  # fmt: skip
    (run,) = laketrace.query(
        "SELECT error_count, spark_error_count, spark_warning_count FROM logs_runs", path=path
    ).to_pylist()
    assert run == {"error_count": 2, "spark_error_count": 1, "spark_warning_count": 3}
    data = collect(path=path)
    assert [r["msg"] for r in data["spark"]] == [HOSTILE, "Lost executor 1 on host-a"]
    out = tmp_path / "r.html"
    write_report(out, path=path)
    page = out.read_text()
    assert "Spark warnings and errors (driver log)" in page and HOSTILE not in page
    assert "Lost executor 1 on host-a" in page
