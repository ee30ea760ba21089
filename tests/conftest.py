"""Shared fixtures: isolated log directories, injected clocks, fresh logger names."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from laketrace.log import registry as _registry
from laketrace.log.logger import get_logger as _get_logger
from laketrace.spool.names import list_spool
from laketrace.spool.read import read_records

_names = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent
# what LakeTrace and Spark create in the working directory by default
_DEFAULT_OUTPUTS = ("lakehouse", ".laketrace", "spark-warehouse", "metastore_db", "report.html")


@pytest.fixture(scope="session", autouse=True)
def _repository_stays_clean() -> Iterator[None]:
    """Fail the run if a test wrote default outputs into the repository (use tmp_path)."""
    before = {name for name in _DEFAULT_OUTPUTS if (ROOT / name).exists()}
    yield
    created = [name for name in _DEFAULT_OUTPUTS if (ROOT / name).exists()]
    created = [name for name in created if name not in before]
    assert not created, f"tests wrote {created} into {ROOT}: give them a tmp_path"


class FakeClock:
    """A controllable clock: epoch seconds that only move when the test says so."""

    def __init__(self, start: float = 1_764_336_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 2025-11-28T13:20:00Z."""
    return FakeClock()


@pytest.fixture
def log_dir(tmp_path: Path) -> str:
    """An empty spool directory."""
    d = tmp_path / "spool"
    return str(d)


@pytest.fixture
def make_logger(log_dir: str) -> Iterator[Callable[..., Any]]:
    """Create loggers with unique names (stdout off by default); closes them afterwards."""
    made: list[Any] = []

    def make(name: str | None = None, **config: Any) -> Any:
        config.setdefault("log_dir", log_dir)
        config.setdefault("stdout", False)
        log = _get_logger(name or f"test.logger{next(_names)}", config)
        made.append(log)
        return log

    yield make
    for log in made:
        log.close()
        _registry.forget(log.name)


def spool_records(log_dir: str, logger: str | None = None) -> list[dict[str, Any]]:
    """Every parsed record in the spool directory, oldest file first."""
    out: list[dict[str, Any]] = []
    for path, _ in list_spool(log_dir, logger=logger):
        out.extend(read_records(path))
    return out


def spool_lines(log_dir: str) -> list[bytes]:
    """Every raw line of every spool file."""
    lines: list[bytes] = []
    for path, _ in list_spool(log_dir):
        with open(path, "rb") as fh:
            lines.extend(fh.read().splitlines(keepends=True))
    return lines


def parse_all(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a forced runtime, run id or log dir from the environment."""
    for key in ("LAKETRACE_RUNTIME", "LAKETRACE_RUN_ID", "LAKETRACE_LOG_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)


@pytest.fixture
def write_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spool files of loggers made after this are written with ``write()``, not mapped."""
    monkeypatch.setenv("LAKETRACE_SPOOL_WRITER", "write")


def files_in(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spark tests run last: their session-scoped SparkContext must not leak into core tests."""
    for item in items:
        if "/tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
    items.sort(key=lambda item: item.get_closest_marker("spark") is not None)
