"""The Spark tests again on pyspark 3.5 with its Delta release (Fabric runtime 1.3 and the
Databricks LTS runtimes still run Spark 3.5).

``./scripts/setup`` builds ``.venv-spark35`` from ``constraints/spark35.txt``; this test runs
``tests/spark`` with that interpreter in a child pytest and fails with its output.
Skip it with ``LAKETRACE_SKIP_SPARK35=1``.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON35 = os.path.join(ROOT, ".venv-spark35", "bin", "python")
# 1,000 Python tasks take ~70 s on 2 cores; the Spark 4 run covers driver memory growth
HEAVY = "tests/spark/test_executor_logging.py::test_many_partitions_do_not_grow_driver_memory"


@pytest.mark.slow
def test_spark_suite_passes_on_pyspark_35():
    """tests/spark passes on pyspark 3.5.x + delta-spark 3.3.x."""
    import pyspark

    if int(pyspark.__version__.split(".")[0]) < 4:
        pytest.skip("this is the Spark 3.5 run itself")
    if os.environ.get("LAKETRACE_SKIP_SPARK35") == "1":
        pytest.skip("LAKETRACE_SKIP_SPARK35=1")
    if not os.path.exists(PYTHON35):
        pytest.fail(
            f"{PYTHON35} is missing: run ./scripts/setup (it builds the Spark 3.5 venv), "
            "or set LAKETRACE_SKIP_SPARK35=1 to skip the Spark 3.5 run"
        )
    version = subprocess.run(
        [PYTHON35, "-c", "import pyspark, delta; print(pyspark.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("3.5."), version
    out = subprocess.run(
        [PYTHON35, "-m", "pytest", "-q", "tests/spark", "--deselect", HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    print(f"pyspark {version}: {summary}")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    # "2 xfailed" (an expected failure) is not a failure; "1 failed" and "1 error" are
    bad = re.search(r"\b\d+ (failed|errors?)\b", summary)
    assert re.search(r"\b\d+ passed\b", summary) and bad is None, summary
