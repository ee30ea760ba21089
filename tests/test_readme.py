"""README examples run, and the README's schema table matches laketrace.schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from laketrace.schema import schema_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_blocks(tag: str) -> list[str]:
    """Code blocks of the README whose info string is exactly ``tag``."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return re.findall(rf"^```{re.escape(tag)}\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(readme_blocks("python"))))
def test_readme_python_examples_run(index, tmp_path):
    """Each ```python block of the README runs as-is (in a fresh directory)."""
    pytest.importorskip("deltalake")
    code = readme_blocks("python")[index]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_readme_has_the_two_setup_commands_first():
    """The README starts with exactly two set-up commands: the demo and the tests."""
    (first,) = readme_blocks("bash")[:1]
    lines = [ln for ln in first.splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "laketrace demo" in lines[0] and "python -m pytest" in lines[1]
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert "./scripts/setup" in ci and ".venv/bin/python -m pytest" in ci


def test_readme_schema_table_is_generated_from_the_schema():
    """The README's column table is exactly laketrace.schema.schema_markdown()."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- schema-table:start -->\n(.*?)\n<!-- schema-table:end -->", text, re.S)
    assert m and m.group(1) == schema_markdown()
