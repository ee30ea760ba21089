"""Companion spool files (Spark's driver log, written by the JVM appender) belong to exactly
one logger: no other logger's retention sees them, whatever its name."""

from __future__ import annotations

import os

from laketrace.log import CompanionFiles
from laketrace.log.companion import companion_prefix
from laketrace.spool.names import list_spool, spool_prefix


def _companion_file(log_dir: str, prefix: str, seq: int) -> str:
    os.makedirs(log_dir, exist_ok=True)
    name = f"{prefix}__20250101T00000{seq}000000Z__run__4242__00000{seq}.sealed.jsonl"
    path = os.path.join(log_dir, name)
    with open(path, "wb") as fh:
        fh.write(b'{"msg":"spark event","source":"spark"}\n')
    return path


def test_companion_prefix_is_no_loggers_prefix():
    """``etl``'s Spark-log prefix is not the prefix of a logger named ``etl.spark`` (nor of
    any name: ``~`` only ever precedes a name hash in a logger's own prefix)."""
    for name in ("etl", "a b", "日志", "etl.spark", "x~spark"):
        prefix = companion_prefix(name, "spark")
        assert prefix.startswith(spool_prefix(name))
        for other in (f"{name}.spark", f"{name}~spark", prefix, f"{name}_spark"):
            assert spool_prefix(other) != prefix, (name, other)


def test_retention_of_a_logger_named_like_the_companion_keeps_the_spark_files(make_logger):
    """A logger called ``etl.spark`` with ``retention=1`` deletes only its own old files,
    never the Spark-log files of logger ``etl``, which stay listed as ``etl``'s companions."""
    etl = make_logger("etl")
    kept = [_companion_file(etl.log_dir, companion_prefix("etl", "spark"), i) for i in (1, 2)]
    other = make_logger("etl.spark", retention=1, rotation="1 KB")
    for i in range(60):
        other.info("own record %d", i, pad="x" * 40)
    other.close()
    assert all(os.path.exists(p) for p in kept)
    own = [n for _, n in list_spool(etl.log_dir, logger="etl.spark") if n.sealed]
    assert len(own) == 1  # its retention ran on its own files
    companion = CompanionFiles(etl, "spark")
    assert sorted(f.path for f in companion._sealed_files()) == sorted(kept)
