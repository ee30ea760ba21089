"""The package keeps its shape: layers along the data path, no import cycles (lazy imports
included), small modules and functions, and one owner for the rules shared with the JVM."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("laketrace", "spark_listener")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _sources() -> list[str]:
    out = []
    for pkg in PACKAGES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, pkg)):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__pycache__"))]
            out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    return sorted(out)


def test_import_linter_contracts_are_kept():
    """lint-imports (contracts in pyproject.toml) reports every contract kept."""
    exe = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    if not os.path.exists(exe):
        pytest.skip("import-linter is not installed (pip install 'laketrace[dev]')")
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_counting_lazy_imports():
    """No two modules import each other, directly or through others, even inside functions."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {}
    for module in graph.modules:
        deps = graph.find_modules_directly_imported_by(module)
        # a module importing its own package's __init__ (or a parent) is not a cycle
        edges[module] = {d for d in deps if not module.startswith(d + ".")}
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_planted_cycle():
    """The cycle check above would notice a cycle (a guard against a check that cannot fail)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_modules_and_functions_stay_small():
    """No module over 450 lines and no function over 80 lines in laketrace or spark_listener."""
    big = []
    for path in _sources():
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        rel = os.path.relpath(path, ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            big.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    big.append(f"{rel}:{node.lineno} {node.name}: {size} lines")
    assert big == []


def test_layout_follows_the_data_path():
    """The subpackages named in the README's architecture section exist and are packages."""
    for sub in ("log", "record", "sinks", "spool", "flush", "executor", "read", "cli"):
        assert os.path.isfile(os.path.join(ROOT, "laketrace", sub, "__init__.py")), sub
    for top in ("schema", "runtime", "targets", "errors", "testing", "_units"):
        assert os.path.isfile(os.path.join(ROOT, "laketrace", top + ".py")), top


JAVA_DIR = os.path.join(ROOT, "spark_listener", "jvm", "src", "main", "java", "io", "laketrace")


def _java(name: str | None = None) -> str:
    names = [name] if name else sorted(os.listdir(JAVA_DIR))
    return "".join(open(os.path.join(JAVA_DIR, f), encoding="utf-8").read() for f in names)


def test_jvm_listener_reads_the_same_spark_properties():
    """The Java listener's Spark property keys are the ones laketrace.runtime owns."""
    from laketrace import runtime

    java = _java()
    used = set(re.findall(r'"(spark\.[A-Za-z0-9_.]+)"', java))
    owned = {
        runtime.PROP_JOB_GROUP,
        runtime.PROP_JOB_DESCRIPTION,
        runtime.PROP_SQL_EXECUTION_ID,
        *runtime.PROP_NOTEBOOK,
    }
    assert used == owned


def test_jvm_flush_job_group_is_the_one_runtime_owns():
    """The Java side's flush job group (used before Python hands it over) is
    laketrace.runtime.FLUSH_JOB_GROUP, and no Java file spells it another way."""
    from laketrace import runtime

    default = re.findall(r'static volatile String group = "([^"]*)";', _java("FlushWork.java"))
    assert default == [runtime.FLUSH_JOB_GROUP]
    assert set(re.findall(r'"(laketrace[-_]flush[^"]*)"', _java())) == {runtime.FLUSH_JOB_GROUP}


def test_jvm_spool_writer_names_files_as_laketrace_spool_does():
    """The Java spool writer's file names, suffixes and temp folder are the ones
    laketrace.spool owns: a name it builds parses with `parse_spool_name`."""
    from laketrace.spool import _fs, names

    java = _java("SpoolWriter.java")
    stamp_format = re.findall(r'ofPattern\("([^"]+)"\)', java)
    assert len(stamp_format) == 1
    # each pattern letter is one digit; quoted text is literal
    sample_stamp = re.sub(r"'([^']*)'|[A-Za-z]", lambda m: m.group(1) or "1", stamp_format[0])
    assert re.fullmatch(names.STAMP_PATTERN, sample_stamp), sample_stamp
    assert '+ "__" + STAMP.format(' in java and '+ "__" + String.format("%06d"' in java
    assert f'"{names.ACTIVE_SUFFIX}"' in java and f'"{names.SEALED_SUFFIX}"' in java
    internal, tmp = os.path.split(_fs.CREATING_DIR)
    assert f'resolve("{internal}").resolve("{tmp}")' in java and internal == names.INTERNAL_DIR
    assert f'"{_fs.CREATING_SUFFIX}"' in java
    parsed = names.parse_spool_name(f"app.spark__{sample_stamp}__run-1__4242__000001.jsonl")
    assert parsed is not None and (parsed.logger, parsed.pid, parsed.sealed) == (
        "app.spark",
        4242,
        False,
    )


ROOTS = ("log", "record", "sinks", "spool", "flush", "executor", "read", "cli")
ROOTS += ("schema", "runtime", "targets", "storage", "errors", "testing", "_units")


def _resolve(dotted: str) -> None:
    """Import the longest module prefix of ``laketrace.<dotted>``, then get the rest."""
    import dataclasses
    import importlib
    import importlib.util

    parts = dotted.split(".")
    mod, i = "laketrace." + parts[0], 1
    while i < len(parts) and importlib.util.find_spec(mod) is not None:
        spec = importlib.util.find_spec(mod)
        if not (spec and spec.submodule_search_locations):
            break
        if importlib.util.find_spec(f"{mod}.{parts[i]}") is None:
            break
        mod, i = f"{mod}.{parts[i]}", i + 1
    obj = importlib.import_module(mod)
    for attr in parts[i:]:
        if dataclasses.is_dataclass(obj) and attr in {f.name for f in dataclasses.fields(obj)}:
            return
        if isinstance(obj, type) and attr in getattr(obj, "__annotations__", {}):
            return  # declared on the class, set per logger (the level methods)
        obj = getattr(obj, attr)


def architecture_names(text: str) -> list[str]:
    """Dotted laketrace names (``flush.run.flush_to_delta``) in a README Architecture section."""
    section = text.split("\n## Architecture", 1)[1].split("\n## ", 1)[0]
    out = []
    for name in re.findall(r"`((?:laketrace\.)?[A-Za-z_]+(?:\.[A-Za-z_]+)+)`", section):
        name = name.removeprefix("laketrace.")
        if name.split(".")[0] in ROOTS and not name.endswith((".py", ".toml", ".jsonl")):
            out.append(name)
    return out


def test_readme_architecture_names_only_what_exists():
    """Every module, class and function the README's Architecture section names exists
    (so a move or a rename cannot leave the map pointing at nothing)."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    names = architecture_names(text)
    assert len(names) > 10
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == []
