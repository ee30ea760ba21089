"""Spool files another writer keeps for a logger (Spark's JVM log appender): the logger's
compression and retention applied to them after each seal, as to the logger's own files.

The other writer names its files with `companion_prefix` (the logger's file-name part plus
``~`` and a suffix), so `list_spool`, recovery and the flush treat them like any spool file
while retention of the logger's own files never counts them (nor they the logger's), and
no other logger's files share the prefix (``~`` is in no logger's own prefix but before a
name hash; ``"etl.spark"`` is a logger of its own, not ``etl``'s Spark log).
"""

from __future__ import annotations

import os

from ..sinks.lifecycle import FileLifecycle, SealedFile
from ..spool.ledger import shipped_stems
from ..spool.names import INTERNAL_DIR, list_spool, spool_prefix, spool_stem, stamp_epoch
from .logger import LakeTraceLogger


def companion_name(logger_name: str, suffix: str) -> str:
    """How the companion files are labelled in messages (``etl`` -> ``etl.spark``)."""
    return f"{logger_name}.{suffix}"


def companion_prefix(logger_name: str, suffix: str) -> str:
    """The ``<logger>`` part of the companion files' names: never any logger's own prefix.

    >>> companion_prefix("etl", "spark"), companion_prefix("a b", "spark")
    ('etl~spark', 'a_b~c8687a08~spark')
    """
    return f"{spool_prefix(logger_name)}~{suffix}"


class CompanionFiles:
    """Runs the logger's compression and retention over one companion writer's sealed files."""

    def __init__(self, logger: LakeTraceLogger, suffix: str) -> None:
        cfg = logger.config
        self.log_dir = cfg.log_dir or ""
        # the logger name as the logger's own spool files carry it: masked with `redact`
        base = cfg.redact.name(logger.name) if cfg.redact is not None else logger.name
        self.name = companion_name(base, suffix)
        #: the ``<logger>`` part of the companion writer's file names
        self.prefix = companion_prefix(base, suffix)
        self.has_target = cfg.path is not None or cfg.table is not None
        opts = cfg.handler
        self.rotation = opts.rotation
        self.lifecycle = FileLifecycle(
            label=f"{self.name} (spool {self.log_dir})",
            compression=opts.compression,
            retention=opts.retention,
            list_sealed=self._sealed_files,
            tmp_dir=os.path.join(self.log_dir, INTERNAL_DIR, "tmp"),
        )

    @property
    def rotation_bytes(self) -> int:
        """The logger's size rotation (0: none), for the companion writer to apply too."""
        rot = self.rotation
        return int(rot.size) if rot is not None and rot.size else 0

    def _sealed_files(self) -> list[SealedFile]:
        shipped = shipped_stems(self.log_dir) if self.has_target else None
        out = []
        for path, name in list_spool(self.log_dir):
            if name.sealed and name.logger == self.prefix:
                stem = spool_stem(path)
                out.append(
                    SealedFile(path, stamp_epoch(name.stamp), shipped is None or stem in shipped)
                )
        return out

    def sealed(self, path: str | None) -> None:
        """The companion writer sealed ``path`` (None: nothing): compress, apply retention."""
        if path:
            self.lifecycle.on_seal(path)
