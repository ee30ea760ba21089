"""The committed JVM listener jar is what its Java source compiles to (with Maven)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JVM = os.path.join(ROOT, "spark_listener", "jvm")
JAR = os.path.join(JVM, "laketrace-listener.jar")


def _classes(jar: str) -> dict[str, bytes]:
    with zipfile.ZipFile(jar) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.endswith(".class")}


def _bytecode(jar: str, tmp: str) -> dict[str, str]:
    """`javap -c -p` of every class: the instructions, without debug tables."""
    out = {}
    for name, data in _classes(jar).items():
        path = os.path.join(tmp, name.replace("/", "_"))
        with open(path, "wb") as fh:
            fh.write(data)
        text = subprocess.run(
            ["javap", "-c", "-p", path], capture_output=True, text=True, check=True
        ).stdout
        out[name] = "\n".join(line for line in text.splitlines() if "Compiled from" not in line)
    return out


@pytest.mark.slow
def test_committed_jar_matches_the_java_source(tmp_path):
    """`mvn package` of spark_listener/jvm gives the committed jar's bytecode, class by class."""
    if shutil.which("mvn") is None or shutil.which("javap") is None:
        pytest.skip("needs Maven and a JDK (javap) on PATH")
    build = tmp_path / "build"
    res = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            os.path.join(JVM, "pom.xml"),
            "package",
            f"-Dlaketrace.build.dir={build}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    built = build / "laketrace-listener.jar"
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    fresh.mkdir()
    committed.mkdir()
    assert (
        sorted(_classes(str(built)))
        == sorted(_classes(JAR))
        == [
            "io/laketrace/FlushWork.class",
            "io/laketrace/LakeTraceAppender$1.class",
            "io/laketrace/LakeTraceAppender$Control.class",
            "io/laketrace/LakeTraceAppender$Item.class",
            "io/laketrace/LakeTraceAppender$Window.class",
            "io/laketrace/LakeTraceAppender.class",
            "io/laketrace/LakeTraceListener.class",
            "io/laketrace/SpoolWriter.class",
        ]
    )
    assert _bytecode(str(built), str(fresh)) == _bytecode(JAR, str(committed)), (
        "spark_listener/jvm/laketrace-listener.jar is stale: run scripts/build_jvm_listener"
    )
