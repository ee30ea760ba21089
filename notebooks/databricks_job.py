# Databricks notebook source
# LakeTrace in a Databricks job (Python file task or notebook task).
# Runs unchanged locally: `python notebooks/databricks_job.py`.

# COMMAND ----------

import laketrace
import spark_listener
from laketrace import runtime

RUNTIME = runtime.detect_runtime()
if RUNTIME == "local":  # e.g. the LakeTrace test suite: a local session with Delta
    from laketrace.cli.spark_session import local_spark

    spark = local_spark("laketrace-databricks-job")
else:  # Databricks provides the session
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
print("runtime:", RUNTIME, "| spark", spark.version)

# COMMAND ----------

# On Databricks the logs go to a Unity Catalog table; elsewhere to a local path.
TARGET = (
    {"table": "main.default.laketrace_logs"}
    if RUNTIME == "databricks"
    else {"path": "lakehouse/laketrace_logs"}
)
log = laketrace.get_logger(
    "databricks.job",
    {"level": "INFO", "stdout": True, "log_dir": "spool", **TARGET},
)
handle = spark_listener.install(spark, log, flush_interval="5 min")
log.info("notebook started", runtime=RUNTIME)

# COMMAND ----------

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
    log.exception("a bad value was skipped")

# COMMAND ----------

result = log.flush_to_delta(spark)  # also happens automatically after jobs and at exit
print(result)
views = laketrace.create_views(spark, TARGET.get("table") or TARGET["path"])
print(views)

# COMMAND ----------

spark.sql(f"""
    SELECT run_id, records, info_count, error_count, first_error
    FROM {views["runs"]}
""").show(truncate=False)
spark.sql(f"""
    SELECT ts, source, msg, exception_class
    FROM {views["errors"]}
    ORDER BY ts
""").show(truncate=False)

# COMMAND ----------

handle.uninstall()
