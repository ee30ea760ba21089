"""The one source of the runnable examples in notebooks/: shared cells, per-variant values.

`scripts/build_notebooks` renders it into the four committed files (VARIANTS):
the Fabric and Databricks notebooks (.ipynb) and job files (.py). Edit this file, never
the generated ones: tests/test_notebook_sources.py fails when a committed file is not
the rendering of this source.

Every variant renders the same CELLS. A cell's text is a `string.Template`; its `$name`
placeholders (only those in SUBSTITUTIONS) are the one place the variants differ, with
values from `values(variant)`. A cell can be limited to notebooks or jobs (`kinds`);
markdown cells appear only in notebooks, whose intro becomes the header of a job file.

Stdlib only and no laketrace import: the build script and the test load it by path.
"""

from __future__ import annotations

import json
from string import Template
from typing import NamedTuple


class Variant(NamedTuple):
    """One generated file: a platform ("fabric" | "databricks") and a kind ("notebook" | "job")."""

    platform: str
    kind: str
    filename: str  # inside notebooks/

    @property
    def logger(self) -> str:
        """The logger name, e.g. "fabric.job"."""
        return f"{self.platform}.{self.kind}"

    @property
    def app_name(self) -> str:
        """The Spark application name of a local run, e.g. "laketrace-fabric-job"."""
        return f"laketrace-{self.platform}-{self.kind}"


VARIANTS = (
    Variant("fabric", "notebook", "fabric_notebook.ipynb"),
    Variant("databricks", "notebook", "databricks_notebook.ipynb"),
    Variant("fabric", "job", "fabric_spark_job_definition.py"),
    Variant("databricks", "job", "databricks_job.py"),
)

KINDS = ("notebook", "job")


class Cell(NamedTuple):
    """A notebook cell (a job's code cells are separated by its platform's separator)."""

    id: str  # the notebook cell id: stable when cells are added or moved
    type: str  # "markdown" | "code"
    template: str  # string.Template text; $name: a SUBSTITUTIONS value of the variant
    kinds: tuple[str, ...] = KINDS


# The declared per-variant differences: the only placeholders a cell may use.
SUBSTITUTIONS = ("intro", "session", "target", "logger")

PLATFORMS = {
    "fabric": {
        "name": "Fabric",
        "intro": """\
# LakeTrace on Microsoft Fabric

Install: add the `laketrace` wheel to the Environment attached to this notebook
(no `pyspark`: Fabric ships it). Logs land in the default lakehouse as `Tables/laketrace_logs`.""",
        "target": """\
# On Fabric the logs go to the default lakehouse's Tables/laketrace_logs; elsewhere to a local path.
TARGET = (
    {"table": "laketrace_logs"} if RUNTIME == "fabric" else {"path": "lakehouse/laketrace_logs"}
)""",
        # a Fabric Spark job definition's main file is plain Python
        "job_header": '''\
"""Entry file of a Fabric Spark job definition using LakeTrace.

Upload as the main definition file; add the laketrace wheel to the job's Environment.
Runs unchanged locally: `python notebooks/$filename`.
"""''',
        "job_separator": "\n\n",
    },
    "databricks": {
        "name": "Databricks",
        "intro": """\
# LakeTrace on Databricks

Install: attach the `laketrace` wheel as a cluster library (or `%pip install` it);
never install `pyspark` on a cluster. Logs land in the Unity Catalog table
`main.default.laketrace_logs`.""",
        "target": """\
# On Databricks the logs go to a Unity Catalog table; elsewhere to a local path.
TARGET = (
    {"table": "main.default.laketrace_logs"}
    if RUNTIME == "databricks"
    else {"path": "lakehouse/laketrace_logs"}
)""",
        # Databricks source format: a .py file that imports as a notebook, one cell per COMMAND
        "job_header": """\
# Databricks notebook source
# LakeTrace in a Databricks job (Python file task or notebook task).
# Runs unchanged locally: `python notebooks/$filename`.""",
        "job_separator": "\n\n# COMMAND ----------\n\n",
    },
}

# How the session is obtained: the platform's `spark` (notebooks) or its getOrCreate (jobs);
# a local session with Delta elsewhere (e.g. the LakeTrace test suite).
SESSIONS = {
    "notebook": """\
try:
    spark  # provided by $name
except NameError:  # running elsewhere (e.g. the LakeTrace test suite): a local session
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("$app_name")""",
    "job": """\
if RUNTIME == "local":  # e.g. the LakeTrace test suite: a local session with Delta
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("$app_name")
else:  # $name provides the session
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()""",
}

CELLS = (
    Cell("intro", "markdown", "$intro", kinds=("notebook",)),
    Cell(
        "setup",
        "code",
        """\
import laketrace
import spark_listener
from laketrace import runtime

RUNTIME = runtime.detect_runtime()
$session
print("runtime:", RUNTIME, "| spark", spark.version)""",
    ),
    Cell(
        "logger",
        "code",
        """\
$target
log = laketrace.get_logger(
    "$logger",
    {"level": "INFO", "stdout": True, "log_dir": "spool", **TARGET},
)
handle = spark_listener.install(spark, log, flush_interval="5 min")
log.info("notebook started", runtime=RUNTIME)""",
    ),
    Cell(
        "executors-md",
        "markdown",
        "Log on the driver and on executors (the proxy ships executor records with task results).",
        kinds=("notebook",),
    ),
    Cell(
        "executors",
        "code",
        """\
proxy = log.for_executors(level="INFO")  # picklable: use it inside UDFs and mapInPandas


def clean(batches):  # one partition's rows, as pandas DataFrames
    kept = 0
    for batch in batches:
        batch = batch[batch.id % 7 != 0]
        kept += len(batch)
        yield batch
    proxy.info("partition cleaned", kept=kept)


df = spark.range(0, 10_000, 1, 4)
cleaned = df.mapInPandas(clean, df.schema)  # classic Spark and Spark Connect alike
log.success("cleaned {} rows", cleaned.count())
try:
    int("not a number")
except ValueError:
    log.exception("a bad value was skipped")""",
    ),
    Cell("flush-md", "markdown", "Flush to Delta and query with SQL.", kinds=("notebook",)),
    Cell(
        "flush",
        "code",
        """\
result = log.flush_to_delta(spark)  # also happens automatically after jobs and at exit
print(result)
views = laketrace.create_views(spark, TARGET.get("table") or TARGET["path"])
print(views)""",
    ),
    Cell(
        "query",
        "code",
        '''\
spark.sql(f"""
    SELECT run_id, records, info_count, error_count, first_error
    FROM {views["runs"]}
""").show(truncate=False)
spark.sql(f"""
    SELECT ts, source, msg, exception_class
    FROM {views["errors"]}
    ORDER BY ts
""").show(truncate=False)''',
    ),
    # a notebook keeps flushing after each Spark job while it is open; a job ends here
    Cell("teardown", "code", "handle.uninstall()", kinds=("job",)),
)


def values(variant: Variant) -> dict[str, str]:
    """The SUBSTITUTIONS values of one variant."""
    platform = PLATFORMS[variant.platform]
    session = Template(SESSIONS[variant.kind]).substitute(
        name=platform["name"], app_name=variant.app_name
    )
    return {
        "intro": platform["intro"],
        "session": session,
        "target": platform["target"],
        "logger": variant.logger,
    }


def cells(variant: Variant) -> list[tuple[Cell, str]]:
    """The variant's cells with their rendered text."""
    subs = values(variant)
    return [(c, Template(c.template).substitute(subs)) for c in CELLS if variant.kind in c.kinds]


def job_header(variant: Variant) -> str:
    """The opening of a job file (a module docstring or the Databricks source header)."""
    return Template(PLATFORMS[variant.platform]["job_header"]).substitute(filename=variant.filename)


def job_separator(variant: Variant) -> str:
    """What separates the header and the code cells of a job file."""
    return PLATFORMS[variant.platform]["job_separator"]


def render(variant: Variant) -> str:
    """The full text of the variant's file."""
    rendered = cells(variant)
    if variant.kind == "job":
        code = [text for cell, text in rendered if cell.type == "code"]
        return job_separator(variant).join([job_header(variant), *code]) + "\n"
    notebook = {
        "cells": [_notebook_cell(cell, text) for cell, text in rendered],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    # what Jupyter writes (nbformat.write): sorted keys, indent 1, UTF-8, final newline
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _notebook_cell(cell: Cell, text: str) -> dict:
    out: dict = {
        "cell_type": cell.type,
        "id": cell.id,
        "metadata": {},
        "source": text.splitlines(keepends=True),
    }
    if cell.type == "code":
        out.update(execution_count=None, outputs=[])
    return out
