"""The `spark` extra and local_spark stay on pyspark/delta-spark pairs whose Delta jars
resolve, say which pairs work when they do not, and keep the JVM's chatter in a file."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from laketrace.cli import spark_session
from laketrace.cli.spark_session import WORKING_PAIRS, delta_maven_coordinates, jvm_output_to

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _spark_extra() -> dict[str, Requirement]:
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    line = re.search(r"^spark = \[(.*)\]$", text, flags=re.M)  # tomllib needs Python 3.11
    assert line is not None
    reqs = [Requirement(r) for r in re.findall(r'"([^"]+)"', line.group(1))]
    return {r.name: r for r in reqs}


def test_working_pairs_fit_the_spark_extra():
    """Every pair local_spark recommends is inside the `spark` extra's bounds."""
    extra = _spark_extra()
    for pyspark, delta in WORKING_PAIRS:
        assert extra["pyspark"].specifier.contains(pyspark), pyspark
        assert extra["delta-spark"].specifier.contains(delta), delta


def test_the_spark_extra_excludes_pairs_whose_jars_are_not_served():
    """pyspark 4.1+ (whose delta-spark releases ask for jars Maven Central lacks, e.g.
    delta-spark_4.2_2.13:4.4.1) and delta-spark 4.2+ are outside the extra's bounds."""
    extra = _spark_extra()
    assert not extra["pyspark"].specifier.contains("4.2.0")
    assert not extra["delta-spark"].specifier.contains("4.4.1")


def test_constraints_files_pin_working_pairs():
    """constraints/*.txt (what scripts/setup installs) pin exactly the pairs in WORKING_PAIRS."""
    pinned = set()
    for name in os.listdir(os.path.join(ROOT, "constraints")):
        text = open(os.path.join(ROOT, "constraints", name), encoding="utf-8").read()
        pins = dict(re.findall(r"^(pyspark|delta-spark)==(\S+)$", text, flags=re.M))
        pinned.add((pins["pyspark"], pins["delta-spark"]))
    assert pinned == set(WORKING_PAIRS)


@pytest.mark.parametrize(
    ("pyspark", "delta", "artifact"),
    [
        ("3.5.7", "3.3.2", "io.delta:delta-spark_2.12:3.3.2"),
        ("4.0.1", "4.0.0", "io.delta:delta-spark_2.13:4.0.0"),
        ("4.0.5", "4.1.0", "io.delta:delta-spark_4.0_2.13:4.1.0"),
        ("4.2.0", "4.4.1", "io.delta:delta-spark_4.2_2.13:4.4.1"),
        ("3.3.0", "2.4.0", "io.delta:delta-core_2.12:2.4.0"),
    ],
)
def test_maven_coordinates_follow_delta_spark_naming(pyspark, delta, artifact):
    """The fallback fetches the artifact delta-spark's configure_spark_with_delta_pip asks for."""
    assert delta_maven_coordinates(pyspark, delta)[0] == artifact


def test_pair_advice_names_the_installed_pair_and_the_working_ones(monkeypatch):
    """The error for jars that cannot be fetched names the pair, the artifact, the fix."""
    versions = {"pyspark": "4.2.0", "delta-spark": "4.4.1"}
    monkeypatch.setattr("importlib.metadata.version", versions.__getitem__)
    text = spark_session.pair_advice("/w/spark-jvm.log")
    assert "pyspark 4.2.0 with delta-spark 4.4.1" in text
    assert "io.delta:delta-spark_4.2_2.13:4.4.1" in text
    assert "pip install 'pyspark==4.0.1' 'delta-spark==4.0.0'" in text
    assert "/w/spark-jvm.log" in text


def test_jvm_output_goes_to_the_file_and_the_terminal_comes_back(tmp_path, capfd):
    """A process started inside jvm_output_to writes into the file; afterwards this
    process's stdout and stderr are the terminal again."""
    log = tmp_path / "sub" / "jvm.log"
    with jvm_output_to(str(log)):
        subprocess.run([sys.executable, "-c", "import sys; print('ivy out'); "
                        "print('ivy err', file=sys.stderr)"], check=True)  # fmt: skip
    print("ours")
    out, err = capfd.readouterr()
    assert "ivy" not in out + err and "ours" in out
    assert log.read_text().splitlines() == ["ivy out", "ivy err"]
    with jvm_output_to(None):
        print("unchanged")
    assert "unchanged" in capfd.readouterr().out
