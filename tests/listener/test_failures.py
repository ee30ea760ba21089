"""Spark failure reasons parse into a one-line root cause, a traceback and Spark's exception
shape, for Python and JVM errors as Spark 3.5 and 4 report them."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark_listener._failures import REASON_LIMIT, cap_reason, parse_failure

# real reasons captured from Spark 3.5.7 and 4.0 listeners (a chained Python error, a plain
# one, an ANSI cast error, a crashed Python worker, a failed stage and job, a killed task)
REASONS = json.load(
    open(os.path.join(os.path.dirname(__file__), "spark_failure_reasons.json"), encoding="utf-8")
)
EXPECTED = {
    "python_chained": ("ValueError: udf exploded", "ValueError", "inner"),
    "python_plain": ("ZeroDivisionError: division by zero", "ZeroDivisionError", "plain"),
    "stage_python": ("ValueError: udf exploded", "ValueError", "inner"),
    "jvm_cast": (
        "SparkNumberFormatException: [CAST_INVALID_INPUT] The value 'abc'",
        "org.apache.spark.SparkNumberFormatException",
        "invalidInputInCastToNumberError",
    ),
    "worker_crashed": (
        "SparkException: Python worker exited unexpectedly (crashed)",
        "org.apache.spark.SparkException",
        "applyOrElse",
    ),
}


@pytest.mark.parametrize("key", sorted(REASONS))
def test_captured_reasons_parse(key):
    """Each captured reason yields its root cause first; Python and JVM errors get frames."""
    failure = parse_failure(REASONS[key])
    kind = key.rsplit("-", 1)[0]
    if kind in EXPECTED:
        summary, cls, method = EXPECTED[kind]
        assert failure.summary.startswith(summary)
        assert failure.exception is not None and failure.exception["class"] == cls
        python = "." not in cls
        # Python frames run outermost first (the raise is last); Java frames innermost first
        assert failure.frames[-1 if python else 0]["method"] == method
        assert failure.traceback is not None
        assert ("\tat " in failure.traceback) is not python
    elif kind == "task_killed":
        assert failure.summary == "TaskKilled (stage cancelled after ValueError: udf exploded)"
    elif kind == "job_jvm":
        assert "[CAST_INVALID_INPUT]" in failure.summary and "\n" not in failure.summary


def test_python_traceback_drops_java_frames_and_keeps_multiline_message():
    """The traceback column holds the Python traceback only; the message keeps all its lines."""
    failure = parse_failure(REASONS["python_chained-spark4"])
    assert failure.traceback is not None
    assert failure.traceback.startswith("Traceback (most recent call last):")
    assert failure.traceback.endswith("ValueError: udf exploded\nsecond line")
    assert "\tat " not in failure.traceback
    assert failure.exception == {
        "class": "ValueError",
        "msg": "udf exploded\nsecond line",
        "stacktrace": failure.frames,
    }
    assert [f["line"] for f in failure.frames] == ["18", "17"]


def test_chained_python_exception_reports_the_last_raised():
    """With ``raise ... from``, the summary and frames are those of the exception raised last."""
    text = (
        "org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
        '  File "a.py", line 2, in f\n    1 / 0\nZeroDivisionError: division by zero\n\n'
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 5, in g\n    raise KeyError("k") from e\nKeyError: \'k\'\n'
        "\tat org.apache.spark.api.python.BasePythonRunner.x(PythonRunner.scala:1)\n"
    )
    failure = parse_failure(text)
    assert failure.summary == "KeyError: 'k'"
    assert [f["method"] for f in failure.frames] == ["g"]
    assert "ZeroDivisionError" in (failure.traceback or "")


def test_spark4_worker_banner_is_skipped():
    """Spark 4's "An exception was thrown from the Python worker" banner is not the cause."""
    text = (
        "org.apache.spark.api.python.PythonException: \n  An exception was thrown from the "
        "Python worker. Please see the stack trace below.\nTraceback (most recent call last):\n"
        '  File "u.py", line 9, in udf\nRuntimeError: bad row 7\n'
    )
    assert parse_failure(text).summary == "RuntimeError: bad row 7"


def test_java_caused_by_names_the_root_cause():
    """A JVM error with ``Caused by:`` ends its summary with the root cause."""
    text = (
        "org.apache.spark.SparkException: Job failed\n\tat a.B.c(B.java:1)\n"
        "Caused by: java.io.IOException: disk full\n\tat d.E.f(E.java:2)\n\t... 3 more\n"
    )
    failure = parse_failure(text)
    assert failure.summary == "SparkException: Job failed (caused by IOException: disk full)"
    assert failure.frames == [{"class": "a.B", "method": "c", "file": "B.java", "line": "1"}]


@pytest.mark.parametrize("text", [None, "", "   ", "weird: text\nmore", "TaskKilled (x)"])
def test_odd_reasons_give_their_first_line(text):
    """Unknown or empty reasons never raise and keep their first line."""
    failure = parse_failure(text)
    assert failure.summary == (str(text or "").strip().split("\n")[0] if text else "") or (
        failure.summary.startswith("TaskKilled")
    )


@given(st.text(max_size=400))
def test_parse_never_raises(text):
    """Any text parses to a one-line summary (the listener must never fail on a reason)."""
    failure = parse_failure(text)
    assert "\n" not in failure.summary


def test_reason_is_capped():
    """The raw reason kept in context is capped and says how much was cut."""
    long = "x" * (REASON_LIMIT + 10)
    capped = cap_reason(long)
    assert capped is not None and capped.endswith("[10 more characters]")
    assert cap_reason("short") == "short" and cap_reason(None) is None


def test_failure_records_carry_exception_and_traceback(tmp_path):
    """A listener failure record has msg ending with the cause, the traceback column, and the
    exception in Spark's shape (what SQL over the table groups by)."""
    import laketrace
    from laketrace.log import registry
    from laketrace.spool.names import list_spool
    from laketrace.spool.read import read_records
    from spark_listener._events import EventHandler

    log = laketrace.get_logger("lt.failures", {"log_dir": str(tmp_path), "stdout": False})
    try:
        handler = EventHandler("lt.failures", lambda: None, lambda: None)
        handler.task_failed(7, 3, 1, 0, "1", "host-a", REASONS["python_chained-spark4"])
        handler.task_failed(8, 3, 1, 1, "1", "host-a", "TaskKilled (another attempt succeeded)")
        log.close()
        recs = [r for p, _ in list_spool(str(tmp_path)) for r in read_records(p)]
    finally:
        registry.forget("lt.failures")
    failed, killed = recs
    assert failed["msg"] == (
        "Spark task 7 (stage 3, partition 1, attempt 0) failed: ValueError: udf exploded"
    )
    assert failed["exception"]["class"] == "ValueError"
    assert failed["exception"]["msg"] == "udf exploded\nsecond line"
    assert failed["exception"]["stacktrace"][-1]["method"] == "inner"
    assert failed["traceback"].startswith("Traceback (most recent call last):")
    assert failed["context"]["reason"].startswith("org.apache.spark.api.python.PythonException")
    assert (killed["exception"], killed["traceback"]) == (None, None)
    assert killed["msg"].endswith("failed: TaskKilled (another attempt succeeded)")
