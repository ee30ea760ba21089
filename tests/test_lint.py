"""House style is enforced by the test run: ruff lint, ruff format and mypy are clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [
    "laketrace",
    "spark_listener",
    "tests",
    "benchmarks",
    "notebooks",
    "scripts/build_notebooks",
]


def _tool(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    found = path if os.path.exists(path) else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install 'laketrace[dev]')")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["ruff", "check", *PATHS],
        ["ruff", "format", "--check", *PATHS],
        ["mypy", "laketrace", "spark_listener"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_checks_pass(args):
    """ruff check, ruff format --check and mypy report nothing."""
    out = subprocess.run([_tool(args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
