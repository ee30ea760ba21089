"""The Spark writer against a real object store: hadoop-azure (wasb://) on Azurite.

hadoop-azure's WASB driver builds the blob endpoint from the URL's account host
(``http://<account host>/<container>``); Azurite serves production-style hosts
(``devstoreaccount1.blob.localhost:<port>``), which no resolver maps to 127.0.0.1 here, so
the child JVM gets a hosts file (``-Djdk.net.hosts.file``) naming it, plus the local host
and Maven Central (Ivy resolves hadoop-azure in the same JVM). That needs its own JVM: the
flush runs in a child process, not in the session-scoped SparkSession.
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from tests import azurite

_CHILD = """
import json, sys
args = json.loads(sys.argv[1])
from delta import configure_spark_with_delta_pip
import laketrace
from laketrace.cli.spark_session import _base_builder
from laketrace.flush import faults
conf = {
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -Djdk.net.hosts.file=" + args["hosts"],
    "spark.hadoop.fs.azure.account.key." + args["host"]: args["key"],
}
builder = _base_builder("laketrace-wasb", "local[2]", conf)
spark = configure_spark_with_delta_pip(builder, extra_packages=[args["package"]]).getOrCreate()
log = laketrace.get_logger("wasb", {"log_dir": args["log_dir"], "stdout": False})
for i in range(20):
    log.info("wasb {}", i)

class Crash(Exception):
    pass

def hook(point):
    if point == "after_commit":
        raise Crash(point)

faults.fault_hook = hook
try:
    log.flush_to_delta(spark, path=args["uri"])
    crashed = False
except Crash:
    crashed = True
faults.fault_hook = None
again = log.flush_to_delta(spark, path=args["uri"])
last = log.flush_to_delta(spark, path=args["uri"])
df = spark.read.format("delta").load(args["uri"])
print(json.dumps({"crashed": crashed, "again": again.records, "last": last.records,
                  "rows": df.count(), "ids": df.select("record_id").distinct().count()}))
"""


def _hadoop_version() -> str:
    import pyspark

    jars = os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar")
    found = [re.search(r"api-(\d+\.\d+\.\d+)\.jar$", p) for p in glob.glob(jars)]
    versions = [m.group(1) for m in found if m]
    if not versions:
        pytest.skip("cannot tell this pyspark's Hadoop version (no hadoop-client-api jar)")
    return versions[0]


def _hosts_file(path: str, account_host: str) -> None:
    lines = [f"127.0.0.1 localhost {account_host}"]
    for name in (socket.gethostname(), "repo1.maven.org", "repos.spark-packages.org"):
        try:
            lines.append(f"{socket.gethostbyname(name)} {name}")
        except OSError:
            pass  # offline: Ivy uses its cache
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.mark.slow
def test_spark_writer_flushes_to_azurite_exactly_once(tmp_path):
    """The Spark writer flushes into a wasb:// table on Azurite; a flush that dies after its
    commit, then two more flushes, leave every record in the table exactly once."""
    import pyspark

    if int(pyspark.__version__.split(".")[0]) < 4:
        pytest.skip("run on Spark 4 only (CI time): the writer code is the same on 3.5")
    server = azurite.start(tmp_path / "azurite", product_style=True)
    try:
        server.create_container("sparklogs")
        host = f"{azurite.ACCOUNT}.blob.localhost:{server.port}"
        hosts = str(tmp_path / "hosts")
        _hosts_file(hosts, f"{azurite.ACCOUNT}.blob.localhost")
        args = {
            "hosts": hosts,
            "host": host,
            "key": azurite.KEY,
            "package": f"org.apache.hadoop:hadoop-azure:{_hadoop_version()}",
            "log_dir": str(tmp_path / "spool"),
            "uri": f"wasb://sparklogs@{host}/lake/app_logs",
        }
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # Spark's spark-warehouse/ and derby files land here
            timeout=900,
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr[-4000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"crashed": True, "again": 0, "last": 0, "rows": 20, "ids": 20}
