"""The README's Spark examples run (all ```python spark blocks, in one process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..test_readme import readme_blocks


@pytest.mark.slow
def test_readme_spark_examples_run(tmp_path):
    """The ```python spark blocks of the README run as one script on local Spark."""
    code = "\n".join(readme_blocks("python spark"))
    assert code.strip()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "flushed" in out.stdout
