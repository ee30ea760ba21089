"""A local Spark Connect server with Delta, in a process of its own (one SparkContext per
process; the Connect client under test must not share a JVM or py4j with it).

``python connect_server.py PORT WAREHOUSE`` starts a ``local[2]`` SparkSession with Delta
(the jars resolved as `laketrace.cli.spark_session.local_spark` does: Ivy, then Maven) and
the Spark Connect plugin listening on ``127.0.0.1:PORT`` (what
``SparkSession.builder.remote("local[2]")`` starts inside the client's own process),
then creates ``server-ready`` in its working directory and serves until its stdin closes.
"""

from __future__ import annotations

import sys

# one short-lived JVM on 2 shared cores: C1 only starts and warms up much faster
JVM_OPTS = "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def main(port: str, warehouse: str) -> None:
    from laketrace.cli.spark_session import local_spark

    spark = local_spark(
        "laketrace-connect-server",
        conf={
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": port,
            "spark.sql.warehouse.dir": warehouse,
            "spark.driver.extraJavaOptions": JVM_OPTS,
            "spark.sql.artifact.isolation.enabled": "true",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    open("server-ready", "w").close()
    sys.stdin.read()  # serve until the test closes our stdin (or the process is killed)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
