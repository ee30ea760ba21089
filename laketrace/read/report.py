"""``laketrace report``: one self-contained HTML page about the runs in a log table.

The page has a table of the most recent runs, a timeline per run (records per time bin,
stacked by level; the bin, 1 s to 1 h, is chosen from the run's length so a 12-second run
and a 5-hour run both show their shape), the most frequent error messages and the most
recent exceptions with their tracebacks. Charts are drawn by plotly.js, embedded in the
page, so it opens offline (no CDN, no fonts, no network at view time); everything taken
from the logs is escaped.

>>> import laketrace
>>> laketrace.write_report("report.html", path="./lakehouse/laketrace_logs")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .query import query

LEVEL_COLORS = {
    "TRACE": "#b0b7bf",
    "DEBUG": "#7f8c8d",
    "INFO": "#2e86de",
    "SUCCESS": "#27ae60",
    "WARNING": "#f39c12",
    "ERROR": "#e74c3c",
    "CRITICAL": "#8e0000",
}
NO_RUN = "(no run_id)"
#: timeline bins in seconds; a run gets the smallest that draws it in at most `MAX_BARS`
BINS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_BARS = 90


def time_bin(duration_s: Any) -> int:
    """The timeline bin (seconds) for a run lasting ``duration_s`` seconds.

    >>> time_bin(12), time_bin(600), time_bin(5 * 3600), time_bin(30 * 86400)
    (1, 10, 300, 3600)
    """
    duration = max(float(duration_s or 0), 0.0)
    return next((b for b in BINS if duration / b <= MAX_BARS), BINS[-1])


def bin_label(seconds: int) -> str:
    """``"5 s"``, ``"1 min"``, ``"1 h"``."""
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@dataclass(frozen=True)
class ReportResult:
    """What `write_report` wrote."""

    out: str
    runs: list[str]
    bytes: int

    def __str__(self) -> str:
        return (
            f"wrote {self.out} ({len(self.runs)} run(s), {self.bytes / 1e6:.1f} MB); "
            "open it in any browser, it needs no network"
        )


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise ImportError(
            "laketrace report draws its charts with plotly: pip install 'laketrace[report]'"
        ) from exc
    return str(get_plotlyjs())


def _rows(
    sql: str, *, path: Any, table: str | None, spark: Any, storage_options: Any = None
) -> list[dict[str, Any]]:
    out = query(sql, path=path, table=table, spark=spark, storage_options=storage_options)
    if spark is not None:
        return [r.asDict() for r in out.collect()]
    return list(out.to_pylist())


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fmt_ts(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def collect(
    *,
    path: Any = None,
    table: str | None = None,
    spark: Any = None,
    runs: int = 20,
    top: int = 10,
    storage_options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Query the table for everything the page shows (plain Python values)."""
    if runs <= 0 or top <= 0:
        raise ValueError(f"runs (--runs) and top (--top) must be positive, got {runs} and {top}")
    kw = {"path": path, "table": table, "spark": spark, "storage_options": storage_options}
    run_rows = _rows(
        "SELECT run_id, app_name, runtime, start_ts, end_ts, duration_s, records, "
        "error_count + critical_count AS errors, warning_count AS warnings, first_error, "
        "spark_error_count AS spark_errors, spark_warning_count AS spark_warnings "
        f"FROM logs_runs ORDER BY start_ts DESC LIMIT {int(runs)}",
        **kw,
    )
    data: dict[str, Any] = {
        "runs": run_rows, "bins": {}, "timeline": [], "top_errors": [], "exceptions": [],
        "spark": [],
    }  # fmt: skip
    if not run_rows:
        return data
    where = _where(run_rows)
    data["bins"] = {r["run_id"] or NO_RUN: time_bin(r["duration_s"]) for r in run_rows}
    data["timeline"] = _timeline(run_rows, data["bins"], kw)
    data["top_errors"] = _rows(
        "SELECT msg, count(*) AS n, count(DISTINCT run_id) AS runs, max(ts) AS last_seen "
        f"FROM logs WHERE level_no >= 40 AND {where} GROUP BY msg "
        f"ORDER BY n DESC, last_seen DESC LIMIT {int(top)}",
        **kw,
    )
    data["exceptions"] = _rows(
        "SELECT ts, run_id, logger, level, msg, exception_class, exception_msg, traceback "
        f"FROM logs_errors WHERE traceback IS NOT NULL AND {where} "
        f"ORDER BY ts DESC LIMIT {int(top)}",
        **kw,
    )
    data["spark"] = _rows(
        "SELECT run_id, level, logger, msg, n, last_ts, exception_class FROM logs_spark "
        f"WHERE {where} ORDER BY level_no DESC, n DESC, last_ts DESC LIMIT {int(top)}",
        **kw,
    )
    return data


def _where(run_rows: list[dict[str, Any]]) -> str:
    ids = [r["run_id"] for r in run_rows if r["run_id"] is not None]
    conds = []
    if ids:
        conds.append("run_id IN (" + ", ".join(_sql_str(i) for i in ids) + ")")
    if any(r["run_id"] is None for r in run_rows):
        conds.append("run_id IS NULL")
    return "(" + " OR ".join(conds) + ")"


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _timeline(
    run_rows: list[dict[str, Any]], bins: dict[str, int], kw: dict[str, Any]
) -> list[dict[str, Any]]:
    """``{run_id, bucket, level, n}`` rows: records per run, time bin and level.

    The table is grouped by second, minute or hour (whichever the run's bin is a multiple
    of), so each query returns at most a few thousand rows per run; the rest is summed here.
    """
    by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in run_rows:
        b = bins[r["run_id"] or NO_RUN]
        by_unit["hour" if b >= 3600 else "minute" if b >= 60 else "second"].append(r)
    counts: dict[tuple[Any, float, str], int] = defaultdict(int)
    for unit, rows in by_unit.items():
        for row in _rows(
            f"SELECT run_id, date_trunc('{unit}', ts) AS t, level, count(*) AS n "
            f"FROM logs WHERE {_where(rows)} GROUP BY 1, 2, 3",
            **kw,
        ):
            b = bins[row["run_id"] or NO_RUN]
            start = _epoch(row["t"]) // b * b
            counts[(row["run_id"], start, row["level"])] += int(row["n"])
    return [
        {
            "run_id": run,
            "bucket": datetime.fromtimestamp(start, timezone.utc),
            "level": level,
            "n": n,
        }
        for (run, start, level), n in sorted(counts.items(), key=lambda kv: kv[0][1])
    ]


def _figures(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One stacked bar figure (plotly JSON) per run: records per time bin by level."""
    per_run: dict[str, dict[str, dict[str, int]]] = {}
    for row in data["timeline"]:
        run = row["run_id"] or NO_RUN
        when = row["bucket"].strftime("%Y-%m-%d %H:%M:%S")
        per_run.setdefault(run, {}).setdefault(row["level"], {})[when] = int(row["n"])
    figures = []
    for i, run in enumerate((r["run_id"] or NO_RUN) for r in data["runs"]):
        levels = per_run.get(run, {})
        seconds = data["bins"].get(run, 60)
        traces = [
            {
                "type": "bar",
                "name": level,
                "x": sorted(levels[level]),
                "y": [levels[level][m] for m in sorted(levels[level])],
                "marker": {"color": color},
                "width": seconds * 1000 * 0.85,  # ms: one bar per bin, with a gap
                "offset": 0,  # the bar spans its bin (x is the bin's start)
            }
            for level, color in LEVEL_COLORS.items()
            if level in levels
        ]
        layout = {
            "barmode": "stack",
            "height": 260,
            "margin": {"l": 50, "r": 20, "t": 10, "b": 40},
            "xaxis": {"type": "date", "title": {"text": f"time (UTC), {bin_label(seconds)} bins"}},
            "yaxis": {"title": {"text": f"records per {bin_label(seconds)}"}},
            "legend": {"orientation": "h"},
        }
        figures.append({"div": f"timeline-{i}", "data": traces, "layout": layout})
    return figures


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;
color:#1f2933;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#e4e7eb;padding-bottom:4px} h3{font-size:15px;margin:18px 0 4px;font-family:monospace}
.meta{color:#616e7c;font-size:13px} table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f7fa} td.num{text-align:right} .err{color:#c0392b;font-weight:600}
pre{background:#f5f7fa;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
details{margin:6px 0} summary{cursor:pointer;font-size:13px} .empty{color:#616e7c}
"""


def render(data: dict[str, Any], *, source: str, plotly_js: str) -> str:
    """The whole page as one HTML string."""
    runs = data["runs"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>LakeTrace report: {_e(source)}</title><style>{_CSS}</style>",
        f"<script>{plotly_js}</script></head><body>",
        "<h1>LakeTrace report</h1>",
        f"<div class='meta'>table {_e(source)} · generated {now} · "
        f"{len(runs)} most recent run(s)</div>",
        "<h2>Runs</h2>",
    ]
    parts.extend(_runs_section(runs))
    parts.append("<h2>Timelines (records per time bin, by level)</h2>")
    figures = _figures(data)
    for fig, r in zip(figures, runs, strict=True):
        label = bin_label(data["bins"][r["run_id"] or NO_RUN])
        parts.append(
            f"<h3>{_e(r['run_id'] or NO_RUN)} <span class='meta'>· per {label}</span></h3>"
            f"<div id='{fig['div']}'></div>"
        )
    parts.append("<h2>Top error messages</h2>")
    if data["top_errors"]:
        parts.append(
            "<table><tr><th>count</th><th>runs</th><th>last seen (UTC)</th><th>message</th></tr>"
        )
        for r in data["top_errors"]:
            parts.append(
                f"<tr><td class='num'>{int(r['n']):,}</td><td class='num'>{int(r['runs'])}</td>"
                f"<td>{_e(_fmt_ts(r['last_seen']))}</td><td>{_e(r['msg'])}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p class='empty'>No ERROR or CRITICAL records in these runs.</p>")
    parts.extend(_spark_section(data.get("spark") or []))
    parts.append("<h2>Recent exceptions</h2>")
    if not data["exceptions"]:
        parts.append("<p class='empty'>No exceptions with a traceback in these runs.</p>")
    for i, r in enumerate(data["exceptions"]):
        what = r["exception_class"] or r["level"]
        parts.append(
            f"<details{' open' if i == 0 else ''}><summary>{_e(_fmt_ts(r['ts']))} · "
            f"<code>{_e(r['run_id'] or NO_RUN)}</code> · {_e(r['logger'])} · "
            f"<span class='err'>{_e(what)}</span>: {_e(r['msg'])}</summary>"
            f"<pre>{_e(r['traceback'])}</pre></details>"
        )
    # JSON inside <script>: "<" escaped so no log text can close the tag
    payload = json.dumps(figures, default=str).replace("<", "\\u003c")
    parts.append(
        f"<script type='application/json' id='laketrace-figures'>{payload}</script>"
        "<script>(function(){var figs=JSON.parse(document.getElementById("
        "'laketrace-figures').textContent);var done=0;figs.forEach(function(f){"
        "Plotly.newPlot(f.div,f.data,f.layout,{displaylogo:false,responsive:true})"
        ".then(function(){document.getElementById(f.div).dataset.rendered='1';done++;"
        "if(done===figs.length){document.body.dataset.ready='1';}});});"
        "if(figs.length===0){document.body.dataset.ready='1';}})();</script>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def _runs_section(runs: list[dict[str, Any]]) -> list[str]:
    """The table of runs, with the app's and Spark's error and warning counts."""
    parts: list[str] = []
    if not runs:
        parts.append("<p class='empty'>The table has no records yet.</p>")
    else:
        parts.append(
            "<table><tr><th>run_id</th><th>app</th><th>runtime</th><th>start (UTC)</th>"
            "<th>duration</th><th>records</th><th>errors</th><th>warnings</th>"
            "<th>first error</th><th>Spark errors</th><th>Spark warnings</th></tr>"
        )
        for r in runs:
            errors = int(r["errors"] or 0)
            parts.append(
                f"<tr><td><code>{_e(r['run_id'] or NO_RUN)}</code></td><td>{_e(r['app_name'])}"
                f"</td><td>{_e(r['runtime'])}</td><td>{_e(_fmt_ts(r['start_ts']))}</td>"
                f"<td class='num'>{float(r['duration_s'] or 0):.1f} s</td>"
                f"<td class='num'>{int(r['records']):,}</td>"
                f"<td class='num{' err' if errors else ''}'>{errors:,}</td>"
                f"<td class='num'>{int(r['warnings'] or 0):,}</td>"
                f"<td>{_e(r['first_error'])}</td>"
                f"<td class='num'>{int(r.get('spark_errors') or 0):,}</td>"
                f"<td class='num'>{int(r.get('spark_warnings') or 0):,}</td></tr>"
            )
        parts.append("</table>")
    return parts


def _spark_section(rows: list[dict[str, Any]]) -> list[str]:
    """Spark's own driver warnings and errors (``logs_spark``), next to the app's errors."""
    parts = ["<h2>Spark warnings and errors (driver log)</h2>"]
    if not rows:
        parts.append(
            "<p class='empty'>No Spark warnings or errors in these runs (captured with "
            'spark_listener.install(..., spark_logs="WARN")).</p>'
        )
        return parts
    parts.append(
        "<table><tr><th>run_id</th><th>level</th><th>count</th><th>last seen (UTC)</th>"
        "<th>logger</th><th>exception</th><th>message</th></tr>"
    )
    for r in rows:
        parts.append(
            f"<tr><td><code>{_e(r['run_id'] or NO_RUN)}</code></td><td>{_e(r['level'])}</td>"
            f"<td class='num'>{int(r['n']):,}</td><td>{_e(_fmt_ts(r['last_ts']))}</td>"
            f"<td>{_e(r['logger'])}</td><td>{_e(r['exception_class'])}</td>"
            f"<td>{_e(r['msg'])}</td></tr>"
        )
    parts.append("</table>")
    return parts


def write_report(
    out: str | os.PathLike[str],
    *,
    path: Any = None,
    table: str | None = None,
    spark: Any = None,
    runs: int = 20,
    top: int = 10,
    storage_options: Mapping[str, str] | None = None,
) -> ReportResult:
    """Write the HTML report of the ``runs`` most recent runs to ``out`` (atomically).

    ``storage_options`` reach an object-store table without Spark (never printed).
    """
    plotly_js = _plotly_js()  # fail before querying when plotly is missing
    data = collect(
        path=path, table=table, spark=spark, runs=runs, top=top, storage_options=storage_options
    )
    source = str(table or path or "./lakehouse/laketrace_logs")
    page = render(data, source=source, plotly_js=plotly_js)
    out = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return ReportResult(out, [r["run_id"] or NO_RUN for r in data["runs"]], len(page.encode()))
