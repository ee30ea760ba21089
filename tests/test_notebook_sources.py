"""The examples in notebooks/ are renderings of notebooks/_source.py and differ only as declared."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
from string import Template

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB_DIR = os.path.join(ROOT, "notebooks")
REBUILD = "run scripts/build_notebooks (edit notebooks/_source.py, never the generated files)"

# what each committed file is, independently of the source
EXPECTED = {
    "fabric_notebook.ipynb": ("fabric", "notebook"),
    "databricks_notebook.ipynb": ("databricks", "notebook"),
    "fabric_spark_job_definition.py": ("fabric", "job"),
    "databricks_job.py": ("databricks", "job"),
}


def _load_source():
    path = os.path.join(NB_DIR, "_source.py")
    spec = importlib.util.spec_from_file_location("laketrace_notebook_source", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = _load_source()


def _read(filename: str) -> str:
    with open(os.path.join(NB_DIR, filename), encoding="utf-8", newline="") as fh:
        return fh.read()


def _committed_cells(variant) -> list[tuple[str, str]]:
    """A committed file as (cell type, text); a job's code is one block (plain Python has no
    cell markers), its platform's cell separators read as blank lines."""
    text = _read(variant.filename)
    if variant.kind == "notebook":
        return [(c["cell_type"], "".join(c["source"])) for c in json.loads(text)["cells"]]
    opening = SOURCE.job_header(variant) + SOURCE.job_separator(variant)
    assert text.startswith(opening), f"{variant.filename} lacks its header: {REBUILD}"
    body = text[len(opening) :].removesuffix("\n")
    return [("code", body.replace(SOURCE.job_separator(variant), "\n\n"))]


def _template_cells(kind: str) -> list[tuple[str, str]]:
    """The shared cells of a kind, placeholders unfilled, laid out like _committed_cells."""
    cells = [
        (c.type, Template(c.template).safe_substitute()) for c in SOURCE.CELLS if kind in c.kinds
    ]
    if kind == "notebook":
        return cells
    return [("code", "\n\n".join(text for kind_, text in cells if kind_ == "code"))]


def _placeholders(template: str) -> set[str]:
    """The $names a string.Template uses (Template.get_identifiers needs Python 3.11)."""
    found = (m.group("named") or m.group("braced") for m in Template.pattern.finditer(template))
    return {name for name in found if name}


def _with_placeholders(text: str, values: dict[str, str]) -> str:
    for name, value in sorted(values.items(), key=lambda item: -len(item[1])):
        text = text.replace(value, "$" + name)
    return text


def test_source_declares_the_four_files():
    """The source renders exactly the four files that tests/spark/test_notebooks.py runs."""
    assert {v.filename: (v.platform, v.kind) for v in SOURCE.VARIANTS} == EXPECTED


@pytest.mark.parametrize("variant", SOURCE.VARIANTS, ids=lambda v: v.filename)
def test_committed_file_is_the_rendered_source(variant):
    """Each file in notebooks/ is byte for byte what scripts/build_notebooks renders for it."""
    with open(os.path.join(NB_DIR, variant.filename), "rb") as fh:
        committed = fh.read()
    rendered = SOURCE.render(variant).encode("utf-8")
    if committed != rendered:
        diff = "".join(
            difflib.unified_diff(
                committed.decode("utf-8", "replace").splitlines(keepends=True),
                rendered.decode("utf-8").splitlines(keepends=True),
                f"committed/{variant.filename}",
                f"rendered/{variant.filename}",
            )
        )
        pytest.fail(f"notebooks/{variant.filename} is out of date: {REBUILD}\n{diff[:4000]}")


@pytest.mark.parametrize("variant", SOURCE.VARIANTS, ids=lambda v: v.filename)
def test_variants_differ_only_in_declared_substitutions(variant):
    """Each file, its per-variant values put back as placeholders, is the cells all share."""
    for cell in SOURCE.CELLS:
        assert _placeholders(cell.template) <= set(SOURCE.SUBSTITUTIONS), cell.id
    values = SOURCE.values(variant)
    assert set(values) == set(SOURCE.SUBSTITUTIONS)
    cells = [(kind, _with_placeholders(text, values)) for kind, text in _committed_cells(variant)]
    assert cells == _template_cells(variant.kind), REBUILD


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_each_file_names_its_own_platform_and_kind(filename):
    """A file logs as platform.kind, names its app after both and never names the other platform."""
    platform, kind = EXPECTED[filename]
    text = _read(filename)
    if filename.endswith(".ipynb"):
        text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    assert re.findall(r'get_logger\(\s*"([^"]+)"', text) == [f"{platform}.{kind}"]
    assert re.findall(r'local_spark\("([^"]+)"\)', text) == [f"laketrace-{platform}-{kind}"]
    assert "from laketrace.cli.spark_session import local_spark" in text
    other = ({"fabric", "databricks"} - {platform}).pop()
    assert other not in text.lower()
