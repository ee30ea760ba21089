"""Executor logging: loggers for code running inside Spark tasks.

* `TaskLogger` is what `get_logger` returns inside a task: a no-op that never creates
  files, or (``executor_stderr=True``) compact one-line JSON on the task's stderr.
* `ExecutorLogger` is the picklable proxy from ``log.for_executors()``. On the driver it
  logs through the driver logger. In a task it buffers records (level filter applied
  there) in a Spark accumulator; each successful task's records travel with the task
  result and are written into the driver's spool as the task completes, tagged
  ``source="executor"`` with stage, partition, attempt, executor host and call site.

Record ids of executor records are deterministic (proxy, partition, sequence in the task
and content), so records re-delivered by a recomputed stage are de-duplicated: on the
driver (recent ids) and by the flush step (within a batch).
"""

from __future__ import annotations

import collections
import hashlib
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from . import _encoding
from ._levels import LEVELS, Level, parse_level

_NAMES = {lvl.no: str(lvl) for lvl in LEVELS.values()}


def _task_context() -> Any:
    mod = sys.modules.get("pyspark.taskcontext")
    if mod is None:
        return None
    try:
        return mod.TaskContext.get()
    except Exception:
        return None


class _LevelMethods:
    """``trace``..``critical`` for the executor-side loggers (they implement ``_log``)."""

    __slots__ = ()

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    def trace(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["TRACE"], msg, a, f)

    def debug(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["DEBUG"], msg, a, f)

    def info(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["INFO"], msg, a, f)

    def success(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["SUCCESS"], msg, a, f)

    def warning(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["WARNING"], msg, a, f)

    def error(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["ERROR"], msg, a, f)

    def critical(self, msg: Any, *a: Any, **f: Any) -> None:
        self._log(LEVELS["CRITICAL"], msg, a, f)


class TaskLogger(_LevelMethods):
    """The logger `get_logger` returns inside a Spark task; never opens spool files."""

    def __init__(
        self, name: str, level_no: int, to_stderr: bool, bound: dict | None = None
    ) -> None:
        self.name = name
        self._level_no = level_no
        self._stderr = to_stderr
        self._bound = bound or {}

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        if not self._stderr or level.no < self._level_no:
            return
        text = _format(msg, args, fields)
        tc = _task_context()
        rec = {
            "ts": time.time(),
            "level": str(level),
            "logger": self.name,
            "msg": text,
            "context": {**self._bound, **fields},
            "source": "executor",
            "stage_id": tc.stageId() if tc else None,
            "partition_id": tc.partitionId() if tc else None,
            "task_attempt": tc.attemptNumber() if tc else None,
        }
        try:
            sys.stderr.write(_encoding.dumps_str(rec) + "\n")
        except Exception:
            pass

    def exception(self, msg: Any, *a: Any, **f: Any) -> None:
        import traceback

        f.setdefault("traceback", traceback.format_exc())
        self._log(LEVELS["ERROR"], msg, a, f)

    def bind(self, **fields: Any) -> TaskLogger:
        return TaskLogger(self.name, self._level_no, self._stderr, {**self._bound, **fields})

    def contextualize(self, **fields: Any) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def add_handler(self, spec: Any) -> int:
        return 0

    def remove_handler(self, handler_id: int) -> None:
        pass

    def remove_all_handlers(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def tail(self, n: int = 50) -> list:
        return []

    def for_executors(self, **options: Any) -> TaskLogger:
        return self


def task_logger(name: str, config: Any) -> TaskLogger:
    """The logger for ``name`` inside a Spark task (no files; stderr if configured)."""
    cfg = dict(config or {})
    level = parse_level(cfg.get("level", "INFO")).no
    return TaskLogger(name, level, bool(cfg.get("executor_stderr", False)))


def _format(msg: Any, args: tuple, fields: dict[str, Any]) -> str:
    text = msg if type(msg) is str else str(msg)
    if args or (fields and "{" in text):
        try:
            return text.format(*args, **fields)
        except Exception:
            if args:
                return text + " " + " ".join(map(str, args))
    return text


class TaskBuffer:
    """A task's executor records (the accumulator value inside a task)."""

    __slots__ = ("bytes", "dropped", "dropped_bytes", "records", "task")

    def __init__(self) -> None:
        self.records: list[tuple] = []
        self.dropped = 0
        self.dropped_bytes = 0
        self.bytes = 0
        self.task: tuple | None = None

    def __getstate__(self) -> tuple:
        return (self.records, self.dropped, self.dropped_bytes, self.bytes, self.task)

    def __setstate__(self, state: tuple) -> None:
        self.records, self.dropped, self.dropped_bytes, self.bytes, self.task = state


class DriverSink:
    """The driver-side accumulator value: writes each task's records into the spool."""

    def __init__(self, logger_name: str, token: str) -> None:
        self.logger_name = logger_name
        self.token = token
        self.lock = threading.Lock()
        self.seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.delivered = 0
        self.duplicates = 0

    def deliver(self, buf: TaskBuffer) -> None:
        from ._levels import LEVELS as L
        from ._logger import registered_core

        core = registered_core(self.logger_name)
        if core is None:
            return
        stage, partition, attempt, _task_attempt_id, host, pid, group, notebook = (
            buf.task or (None,) * 8
        )
        spark = (None, stage, partition, attempt, group, notebook)
        with self.lock:
            for item in buf.records:
                rid = item[0]
                if rid in self.seen:
                    self.duplicates += 1
                    continue
                self.seen[rid] = None
                if len(self.seen) > 200_000:
                    self.seen.popitem(last=False)
                _, ts, level_no, msg, fields, module, function, line, thread = item
                rec = core.make_record(
                    L.get(_NAMES.get(level_no, "INFO"), L["INFO"]),
                    msg,
                    extra=fields,
                    ts=ts,
                    source="executor",
                    module=module,
                    function=function,
                    line=line,
                    thread_id=0,
                    thread_name=thread,
                    pid=pid,
                    hostname=host,
                    record_id=rid,
                    spark=spark,
                    inherit_context=False,
                )
                core.dispatch(rec)
                self.delivered += 1
            if buf.dropped:
                rec = core.make_record(
                    L["WARNING"],
                    f"LakeTrace dropped {buf.dropped} executor record(s) "
                    f"({buf.dropped_bytes} bytes) of stage {stage} partition {partition}: "
                    "over the per-task caps (max_records_per_task / max_bytes_per_task).",
                    extra={"dropped": buf.dropped},
                    source="executor",
                    module="laketrace._executor",
                    function="ExecutorLogger",
                    hostname=host,
                    pid=pid,
                    record_id=f"x-{self.token}-{stage}-{partition}-dropped-{buf.dropped}",
                    spark=spark,
                    inherit_context=False,
                )
                core.dispatch(rec)


class ExecutorLogParam:
    """Spark ``AccumulatorParam`` (duck-typed, so pyspark is not imported here).

    In a task it collects records into a `TaskBuffer`; on the driver, where the value is a
    `DriverSink`, each task's merged update is written straight into the spool.
    """

    def zero(self, value: Any) -> TaskBuffer:
        return TaskBuffer()

    def addInPlace(self, value1: Any, value2: Any) -> Any:
        if isinstance(value1, DriverSink):
            if isinstance(value2, TaskBuffer) and (value2.records or value2.dropped):
                value1.deliver(value2)
            return value1
        if isinstance(value2, tuple):
            value1.records.append(value2)
            return value1
        if isinstance(value2, TaskBuffer):
            value1.records.extend(value2.records)
            value1.dropped += value2.dropped
            value1.dropped_bytes += value2.dropped_bytes
            value1.bytes += value2.bytes
            value1.task = value1.task or value2.task
        return value1


_HOST = socket.gethostname()
_task_state: dict[str, Any] = {"id": None, "seq": 0}


class ExecutorLogger(_LevelMethods):
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
        "_stderr",
        "_token",
    )

    def __init__(
        self,
        name: str,
        token: str,
        acc: Any,
        level_no: int,
        max_records: int,
        max_bytes: int,
        mode: str,
        stderr: bool,
        bound: dict[str, Any] | None = None,
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
        return ExecutorLogger(
            self._name,
            self._token,
            self._acc,
            self._level_no,
            self._max_records,
            self._max_bytes,
            self._mode,
            self._stderr,
            {**self._bound, **fields},
        )

    def _log(self, level: Level, msg: Any, args: tuple, fields: dict[str, Any]) -> None:
        if level.no < self._level_no:
            return
        tc = _task_context()
        if tc is None:  # on the driver: log straight through the driver logger
            from ._logger import registered_core

            core = registered_core(self._name)
            if core is not None and level.no >= core.min_no:
                view = core.cls(core, self._bound) if self._bound else core.root
                core.emit(level, msg, args, dict(fields), view, 3)  # type: ignore[arg-type]
            return
        if self._mode != "accumulator" or self._acc is None:
            if self._stderr:
                TaskLogger(self._name, self._level_no, True, self._bound)._log(
                    level, msg, args, fields
                )
            return
        self._buffer(tc, level, msg, args, fields)

    def _buffer(self, tc: Any, level: Level, msg: Any, args: tuple, fields: dict) -> None:
        state = _task_state
        attempt_id = tc.taskAttemptId()
        if state["id"] != attempt_id:  # python workers are reused: reset per task
            state["id"] = attempt_id
            state["seq"] = 0
            state["count"] = 0
            state["bytes"] = 0
        state["seq"] += 1
        seq = state["seq"]
        text = _format(msg, args, fields)
        merged = {**self._bound, **fields} if self._bound else dict(fields)
        ctx = {str(k): _encoding.context_value(v) for k, v in merged.items()}
        size = len(text) + sum(len(k) + len(v) for k, v in ctx.items()) + 120
        acc = self._acc
        partition = tc.partitionId()
        if state["count"] >= self._max_records or state["bytes"] + size > self._max_bytes:
            buf = acc._value
            buf.dropped += 1
            buf.dropped_bytes += size
            buf.task = buf.task or _task_key(tc)
            return
        state["count"] += 1
        state["bytes"] += size
        f = sys._getframe(3)
        code = f.f_code
        ident = f"{self._token}|{partition}|{seq}|{level.no}|{code.co_name}:{f.f_lineno}|{text}"
        rid = "x-" + hashlib.sha1(ident.encode("utf-8", "replace")).hexdigest()[:24]
        buf = acc._value
        if buf.task is None:
            buf.task = _task_key(tc)
        buf.records.append(
            (
                rid,
                time.time(),
                level.no,
                text,
                ctx,
                f.f_globals.get("__name__"),
                code.co_name,
                f.f_lineno,
                threading.current_thread().name,
            )
        )
        buf.bytes += size

    def exception(self, msg: Any, *a: Any, **f: Any) -> None:
        import traceback

        if sys.exc_info()[0] is not None:
            f.setdefault("traceback", traceback.format_exc())
        self._log(LEVELS["ERROR"], msg, a, f)

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


def _task_key(tc: Any) -> tuple:
    return (
        tc.stageId(),
        tc.partitionId(),
        tc.attemptNumber(),
        tc.taskAttemptId(),
        _HOST,
        os.getpid(),
        _local_property(tc, "spark.jobGroup.id"),
        _local_property(tc, "spark.databricks.notebook.path", "spark.synapse.context.notebookname"),
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
    from ._errors import ConfigError
    from ._rotation import parse_size

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
    core = logger._core
    stderr = core.config.executor_stderr
    token = uuid.uuid4().hex[:12]
    acc = None
    if mode == "accumulator":
        acc, why = _accumulator(core, token, spark)
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
        core.name, token, acc, lvl.no, max_records_per_task, max_bytes, mode, stderr
    )


def _accumulator(core: Any, token: str, spark: Any) -> tuple[Any, str]:
    try:
        from pyspark.sql.utils import is_remote
    except ImportError:
        return None, "pyspark is not installed"
    try:
        if is_remote():
            return None, "this is a Spark Connect session (accumulators are unavailable)"
    except Exception:
        pass
    from .runtime import active_spark_context

    sc = spark.sparkContext if spark is not None else active_spark_context()
    if sc is None:
        return None, "no SparkContext is active"
    try:
        acc = sc.accumulator(DriverSink(core.name, token), ExecutorLogParam())
    except Exception as exc:  # shared/serverless compute blocks py4j and accumulators
        return None, f"accumulators are unavailable here ({type(exc).__name__}: {exc})"
    acc._laketrace_sc = sc  # type: ignore[attr-defined]
    return acc, ""


def _result_size_budget(acc: Any) -> int:
    """A per-task byte cap that keeps one task's result far below spark.driver.maxResultSize."""
    from ._rotation import parse_size

    sc = getattr(acc, "_laketrace_sc", None)
    try:
        raw = sc.getConf().get("spark.driver.maxResultSize", "1g") if sc is not None else "1g"
    except Exception:
        raw = "1g"
    text = str(raw).strip().lower()
    if text in ("0", ""):
        return 1 << 62  # unlimited
    units = {"k": "KiB", "m": "MiB", "g": "GiB", "t": "TiB"}
    if text[-1] in units:
        text = text[:-1] + " " + units[text[-1]]
    elif text.endswith("b") and text[-2:-1] in units:
        text = text[:-2] + " " + units[text[-2]]
    limit = parse_size(text) or 1 << 30
    return max(1024, limit // 64)
