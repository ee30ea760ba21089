"""`ExecutorLogger`: the picklable proxy from ``log.for_executors()``.

On the driver it logs through the driver logger. In a task it buffers records (level
filter applied there) in a Spark accumulator; each successful task's records travel with
the task result and are written into the driver's spool as the task completes, tagged
``source="executor"`` with stage, partition, attempt, executor host and call site.
"""

from __future__ import annotations

import copy
import hashlib
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from .. import runtime as _runtime
from .._units import parse_size, parse_spark_size
from ..errors import ConfigError
from ..record.encoder import context_map
from ..record.levels import Level, parse_level
from ..record.message import MISSING, format_message
from ..sinks.handlers import RAISE_MARK
from . import driver
from .accumulator import DriverSink, ExecutorLogParam, ExecutorRecord, TaskKey
from .task_logger import (
    LevelMethods,
    Masker,
    TaskLogger,
    contained,
    split_exception,
    task_context,
)

_HOST = socket.gethostname()
_task_state: dict[str, Any] = {"id": None, "seq": 0}
# frames from ExecutorLogger._buffer / _log up to the user's call: _log, the level method
_BUFFER_CALLER = 3
_LOG_CALLER = 2


class ExecutorLogger(LevelMethods):
    """Picklable logger proxy for UDFs, pandas UDFs, ``mapPartitions`` and ``foreachPartition``.

    >>> proxy = log.for_executors(mode="accumulator", level="INFO")  # doctest: +SKIP
    >>> df.rdd.mapPartitions(lambda rows: work(rows, proxy)).count()  # doctest: +SKIP
    """

    __slots__ = (
        "_acc",
        "_bound",
        "_level_no",
        "_max_bytes",
        "_max_records",
        "_mode",
        "_name",
        "_redact",
        "_stderr",
        "_token",
    )

    def __init__(
        self,
        name: str,
        *,
        token: str,
        acc: Any,
        level_no: int,
        max_records: int,
        max_bytes: int,
        mode: str,
        stderr: bool,
        bound: dict[str, Any] | None = None,
        redact: Masker | None = None,
    ) -> None:
        self._name = name
        self._token = token
        self._acc = acc
        self._level_no = level_no
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._mode = mode
        self._stderr = stderr
        self._bound = bound or {}
        self._redact = redact

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for slot, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, slot, value)

    @property
    def mode(self) -> str:
        """``"accumulator"`` or ``"noop"``."""
        return self._mode

    def bind(self, **fields: Any) -> ExecutorLogger:
        """A proxy that adds ``fields`` to every record."""
        other = copy.copy(self)
        other._bound = {**self._bound, **fields}
        return other

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        if level.no < self._level_no:
            return
        if msg is MISSING:
            msg = fields.pop("msg", "")
        try:
            tc = task_context()
            if tc is None:  # on the driver: log straight through the driver logger
                link = driver.link()
                if link is not None:
                    link.log_call(
                        self._name, self._bound, level, msg, args, fields, stacklevel=_LOG_CALLER
                    )
                return
            if self._mode != "accumulator" or self._acc is None:
                if self._stderr:
                    TaskLogger(
                        self._name, self._level_no, True, self._bound, redact=self._redact
                    )._log(level, msg, args, fields)
                return
            self._buffer(tc, level, msg, args, fields)
        except Exception as exc:
            if getattr(exc, RAISE_MARK, False):  # a driver handler with catch=False
                raise
            contained(exc)

    def _buffer(self, tc: Any, level: Level, msg: Any, args: tuple, fields: dict) -> None:
        state = _task_state
        attempt_id = tc.taskAttemptId()
        if state["id"] != attempt_id:  # python workers are reused: reset per task
            state.update(id=attempt_id, seq=0, count=0, bytes=0)
        state["seq"] += 1
        seq = state["seq"]
        fields, error = split_exception(fields, self._redact)
        text = format_message(msg, args, fields)
        extra = {**self._bound, **fields} if self._bound else fields
        if self._redact is not None:  # secrets never leave the executor
            text, extra = self._redact.mask_call(text, extra)
        ctx = context_map(extra)
        size = len(text) + sum(len(k) + len(v) for k, v in ctx.items()) + 120
        if error is not None:
            size += len(error[1])
        buf = self._acc._value
        if buf.task is None:
            buf.task = task_key(tc)
        if state["count"] >= self._max_records or state["bytes"] + size > self._max_bytes:
            buf.dropped += 1
            buf.dropped_bytes += size
            return
        state["count"] += 1
        state["bytes"] += size
        f = sys._getframe(_BUFFER_CALLER)
        code = f.f_code
        partition = tc.partitionId()
        ident = f"{self._token}|{partition}|{seq}|{level.no}|{code.co_name}:{f.f_lineno}|{text}"
        rid = "x-" + hashlib.sha1(ident.encode("utf-8", "replace")).hexdigest()[:24]
        buf.records.append(
            ExecutorRecord(
                rid,
                time.time(),
                level.no,
                text,
                ctx,
                f.f_globals.get("__name__"),
                code.co_name,
                f.f_lineno,
                threading.current_thread().name,
                error,
            )
        )
        buf.bytes += size

    def __repr__(self) -> str:
        return f"<ExecutorLogger {self._name!r} mode={self._mode}>"


def _local_property(tc: Any, *keys: str) -> str | None:
    """A local property of the job that runs this task (set on the driver's thread)."""
    for key in keys:
        try:
            value = tc.getLocalProperty(key)
        except Exception:
            return None
        if value:
            return str(value)
    return None


def task_key(tc: Any) -> TaskKey:
    """Where the task ``tc`` runs."""
    return TaskKey(
        tc.stageId(),
        tc.partitionId(),
        tc.attemptNumber(),
        tc.taskAttemptId(),
        _HOST,
        os.getpid(),
        _local_property(tc, _runtime.PROP_JOB_GROUP),
        _local_property(tc, *_runtime.PROP_NOTEBOOK),
    )


def make_proxy(
    logger: Any,
    *,
    mode: str = "accumulator",
    level: str | int = "INFO",
    max_records_per_task: int = 1000,
    max_bytes_per_task: int | str = 256 * 1024,
    spark: Any = None,
) -> ExecutorLogger:
    """Build the proxy for ``logger`` (see `LakeTraceLogger.for_executors`)."""
    if mode not in ("accumulator", "noop"):
        raise ConfigError(f"for_executors: mode must be 'accumulator' or 'noop', got {mode!r}.")
    lvl = parse_level(level, key="for_executors level")
    if not isinstance(max_records_per_task, int) or max_records_per_task < 0:
        raise ConfigError(
            f"for_executors: max_records_per_task must be an int >= 0, got "
            f"{max_records_per_task!r}."
        )
    max_bytes = (
        parse_size(max_bytes_per_task)
        if isinstance(max_bytes_per_task, str)
        else (max_bytes_per_task)
    )
    if not isinstance(max_bytes, int) or max_bytes < 0:
        raise ConfigError(
            f"for_executors: max_bytes_per_task must be bytes or a size like '256 KB', got "
            f"{max_bytes_per_task!r}."
        )
    stderr = logger.config.executor_stderr
    token = uuid.uuid4().hex[:12]
    acc = None
    if mode == "accumulator":
        acc, why = _accumulator(logger.name, token, spark)
        if acc is None:
            mode = "noop"
            logger.warning(
                "LakeTrace executor logging falls back to {} because {}; records logged on "
                "executors are {}.",
                "noop",
                why,
                "written to the task's stderr"
                if stderr
                else "dropped (set executor_stderr=True to see them in the executor logs)",
            )
        else:
            max_bytes = min(max_bytes, _result_size_budget(acc))
    return ExecutorLogger(
        logger.name,
        token=token,
        acc=acc,
        level_no=lvl.no,
        max_records=max_records_per_task,
        max_bytes=max_bytes,
        mode=mode,
        stderr=stderr,
        redact=logger.config.redact,
    )


def _accumulator(name: str, token: str, spark: Any) -> tuple[Any, str]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return None, "pyspark is not installed"
    if _runtime.is_connect_session(spark):
        return None, "this is a Spark Connect session (accumulators are unavailable)"
    sc = spark.sparkContext if spark is not None else _runtime.active_spark_context()
    if sc is None:
        return None, "no SparkContext is active"
    try:
        acc = sc.accumulator(DriverSink(name, token), ExecutorLogParam())
    except Exception as exc:  # shared/serverless compute blocks py4j and accumulators
        return None, f"accumulators are unavailable here ({type(exc).__name__}: {exc})"
    acc._laketrace_sc = sc  # type: ignore[attr-defined]
    return acc, ""


def _result_size_budget(acc: Any) -> int:
    """A per-task byte cap that keeps one task's result far below spark.driver.maxResultSize."""
    sc = getattr(acc, "_laketrace_sc", None)
    try:
        raw = sc.getConf().get(_runtime.CONF_MAX_RESULT_SIZE, "1g") if sc is not None else "1g"
    except Exception:
        raw = "1g"
    limit = parse_spark_size(str(raw).strip())
    if limit == 0:
        return 1 << 62  # unlimited
    return max(1024, (limit or 1 << 30) // 64)
