"""The wheel builds, installs into a clean venv and imports without pyspark."""

from __future__ import annotations

import os
import subprocess
import sys
import venv

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_wheel_installs_into_clean_venv_and_imports(tmp_path):
    """`python -m build --wheel` output installs alone and `import laketrace, spark_listener`
    works with only the standard library."""
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = list(dist.glob("laketrace-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True)
    code = (
        "import importlib.util, laketrace, spark_listener, tempfile\n"
        "assert importlib.util.find_spec('pyspark') is None\n"
        "log = laketrace.get_logger('pkg', {'log_dir': tempfile.mkdtemp(), 'stdout': False})\n"
        "log.info('installed'); log.close()\n"
        "print(laketrace.__version__)\n"
    )
    out = subprocess.run([py, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == laketrace_version()
    cli = subprocess.run(
        [str(env_dir / "bin" / "laketrace"), "--help"], capture_output=True, text=True
    )
    assert cli.returncode == 0 and "flush" in cli.stdout


def laketrace_version() -> str:
    import laketrace

    return laketrace.__version__
