"""The examples in module docstrings run (for modules whose examples need no files or Spark)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "laketrace._units",
    "laketrace.record.message",
    "laketrace.record.levels",
    "laketrace.record.encoding",
    "laketrace.spool.ids",
    "laketrace.targets",
    "laketrace.runtime",
    "laketrace.schema",
    "laketrace.log.context",
    "spark_listener._failures",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    """Every example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples: remove it from the list"
