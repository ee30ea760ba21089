"""LakeTrace 1.x code runs unchanged: 1.x's README quick start and configuration example,
and the migration guide's 1.x notebook (the README's "Coming from LakeTrace 1.x" block),
each as-is in a fresh directory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# LakeTrace 1.x README, "Quick Start" (verbatim)
QUICK_START = """\
from laketrace import get_logger

logger = get_logger("my_job")
logger.info("Starting data processing")

stage = logger.bind(stage="extract", dataset="sales")
stage.info("Extracting sales data")

logger.upload_log_to_lakehouse("Files/logs/my_job.log")
"""

# LakeTrace 1.x README, "Configuration Highlights" (verbatim, plus one log call)
CONFIGURATION = """\
from laketrace import get_logger

logger = get_logger(
    "my_job",
    config={
        "log_dir": "/tmp/laketrace_logs",
        "rotation": "500 MB",
        "retention": "7 days",
        "compression": "gz",
        "level": "INFO",
        "json": True,
        "stdout": True,
        "serialize": True,
        "enqueue": False,
        "filter": None,
        "formatter": None,
        "catch": True,
    }
)
logger.info("configured")
"""

# LakeTrace 1.x Logger.log_structured docstring example (verbatim, with its logger)
LOG_STRUCTURED = """\
from laketrace import get_logger

logger = get_logger("my_job")
logger.log_structured(
    "User login",
    level="INFO",
    data={"user": "john@example.com", "ip": "192.168.1.1"},
    mask_sensitive=True
)
"""

# The README's migration guide example: a 1.x notebook, unchanged (keep identical to the
# ```python block under "Coming from LakeTrace 1.x" in README.md; a test checks it)
MIGRATION_EXAMPLE = """\
import laketrace
from laketrace import get_logger, mask_pii, sanitize_message


def only_info_and_up(record):  # 1.x filters read record.level.no / .name
    return record.level.no >= 20


def one_line(record):  # 1.x formatters: record.timestamp, .level.name, .message
    return f"{record.timestamp:%H:%M:%S} {record.level.name:8} {record.message}\\n"


logger = get_logger(
    "nightly_etl",
    config={
        "log_dir": "laketrace_logs",
        "rotation_mb": 10,
        "retention_files": 5,
        "compression": "none",
        "level": "INFO",
        "json": False,
        "stdout": True,
        "filter": only_info_and_up,
        "formatter": one_line,
        "sanitize_messages": True,
        "mask_pii": True,
        "secure_file_permissions": True,
        "add_runtime_context": True,
    },
    run_id="nightly-2026-11-28",
)
runtime = laketrace.detect_runtime()
logger.info(f"running on {runtime.platform.value} as a {runtime.runtime_type.value}")
stage = logger.bind(stage="extract", dataset="sales")
stage.info("Extracting sales data", rows=1200)
logger.log_structured("User login", data={"user": "john@example.com", "ip": "192.168.1.1"})
try:
    1 / 0
except ZeroDivisionError:
    logger.exception("division failed")

assert mask_pii("call +44 20 7946 0958") == "call +** ** **** **58"
assert sanitize_message("line1\\nline2") == "line1\\\\nline2"
assert logger.upload_log_to_lakehouse("Files/logs/nightly_etl.log")
print(open("Files/logs/nightly_etl.log").read().count("\\n"), "records uploaded")
"""


def _run(code: str, cwd: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKETRACE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def _uploaded(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_1x_quick_start_runs_unchanged(tmp_path):
    """1.x's quick start runs; its end-of-run upload writes the run's records locally."""
    out = _run(QUICK_START, str(tmp_path))
    assert out.returncode == 0, out.stderr
    records = _uploaded(str(tmp_path / "Files" / "logs" / "my_job.log"))
    assert [r["msg"] for r in records] == ["Starting data processing", "Extracting sales data"]
    assert records[1]["context"] == {"stage": "extract", "dataset": "sales"}


def test_1x_configuration_example_runs_unchanged(tmp_path):
    """1.x's configuration example (its defaults spelled out) is accepted as it is."""
    out = _run(CONFIGURATION, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert '"msg":"configured"' in out.stdout.replace(" ", "")  # serialize=True on stdout
    assert "DeprecationWarning" not in out.stderr  # no 1.x-only key in it


def test_1x_log_structured_example_masks_the_data(tmp_path):
    """1.x's log_structured example masks the e-mail and IP address it logs."""
    code = LOG_STRUCTURED + "logger.close()\n"
    out = _run(code, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "j***@example.com" in out.stdout and "192.168.***" in out.stdout
    assert "john@" not in out.stdout


def test_migration_example_runs_unchanged(tmp_path):
    """The migration guide's 1.x notebook runs as-is from an empty directory: one
    DeprecationWarning per 1.x key, masked PII, escaped newlines, an uploaded file."""
    out = _run(MIGRATION_EXAMPLE, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "records uploaded" in out.stdout
    warned = re.findall(r"'(\w+)' is a LakeTrace 1.x key", out.stderr)
    assert sorted(warned) == sorted(
        ["rotation_mb", "retention_files", "sanitize_messages", "mask_pii",
         "secure_file_permissions", "add_runtime_context"]
    )  # fmt: skip
    records = _uploaded(str(tmp_path / "Files" / "logs" / "nightly_etl.log"))
    assert {r["run_id"] for r in records} == {"nightly-2026-11-28"}
    login = next(r for r in records if r["msg"] == "User login")
    assert login["context"] == {"user": "j***@example.com", "ip": "192.168.***"}
    assert any(r["exception"] and r["exception"]["class"] == "ZeroDivisionError" for r in records)
    assert " INFO     Extracting sales data" in out.stdout  # the 1.x formatter on stdout


def test_readme_migration_block_is_this_example():
    """Once the README has the migration guide, its python block is exactly this example."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = re.search(r"^## Coming from LakeTrace 1\.x\n(.*?)(?=^## )", text, re.S | re.M)
    if section is None:
        pytest.skip("README.md has no 'Coming from LakeTrace 1.x' section yet")
    blocks = re.findall(r"^```python\n(.*?)^```", section.group(1), flags=re.S | re.M)
    assert blocks == [MIGRATION_EXAMPLE]
