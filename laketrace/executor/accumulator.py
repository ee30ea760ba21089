"""Executor records in transit: a task buffers them in a Spark accumulator, and the
driver-side value of that accumulator writes each task's records into the driver's spool
as the task completes.

Record ids of executor records are deterministic (proxy, partition, sequence in the task
and content), so records re-delivered by a recomputed stage are de-duplicated: on the
driver (recent ids) and by the flush step (within a batch).
"""

from __future__ import annotations

import collections
import threading
from typing import Any, NamedTuple

from ..record.levels import BY_NO, LEVELS
from ..record.record import JobContext, rendered_exception
from . import driver


class ExecutorRecord(NamedTuple):
    """One record logged in a task, as it travels to the driver."""

    record_id: str
    ts: float
    level_no: int
    msg: str
    context: dict[str, str]
    module: str | None
    function: str | None
    line: int | None
    thread_name: str
    #: the rendered (and masked) exception of ``exception()`` / ``exc_info=``, if any
    error: tuple[dict[str, Any], str] | None = None


class TaskKey(NamedTuple):
    """Where a task ran: Spark ids, executor host and pid, job group and notebook."""

    stage_id: int | None
    partition_id: int | None
    attempt: int | None
    task_attempt_id: int | None
    host: str | None
    pid: int | None
    job_group: str | None
    notebook: str | None

    @property
    def job(self) -> JobContext:
        return JobContext(
            None, self.stage_id, self.partition_id, self.attempt, self.job_group, self.notebook
        )


NO_TASK = TaskKey(None, None, None, None, None, None, None, None)


class TaskBuffer:
    """A task's executor records (the accumulator value inside a task)."""

    __slots__ = ("bytes", "dropped", "dropped_bytes", "records", "task")

    def __init__(self) -> None:
        self.records: list[ExecutorRecord] = []
        self.dropped = 0
        self.dropped_bytes = 0
        self.bytes = 0
        self.task: TaskKey | None = None

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
        #: records that arrived while no logger of that name was live (nowhere to write)
        self.undeliverable = 0

    def deliver(self, buf: TaskBuffer) -> None:
        link = driver.link()
        if link is None:
            return
        task = buf.task or NO_TASK
        job = task.job
        with self.lock:
            for item in buf.records:
                if item.record_id in self.seen:
                    self.duplicates += 1
                    continue
                written = link.emit(
                    self.logger_name,
                    BY_NO.get(item.level_no, LEVELS["INFO"]),
                    item.msg,
                    source="executor",
                    fields=item.context,
                    ts=item.ts,
                    module=item.module,
                    function=item.function,
                    line=item.line,
                    thread_id=0,
                    thread_name=item.thread_name,
                    pid=task.pid,
                    hostname=task.host,
                    record_id=item.record_id,
                    job=job,
                    exc=rendered_exception(*item.error) if item.error else None,
                )
                if not written:  # a re-delivery may still find a logger: not marked seen
                    self.undeliverable += 1
                    continue
                self.seen[item.record_id] = None
                if len(self.seen) > 200_000:
                    self.seen.popitem(last=False)
                self.delivered += 1
            if buf.dropped:
                self._report_dropped(link, buf, task, job)

    def _report_dropped(
        self, link: driver.DriverLink, buf: TaskBuffer, task: TaskKey, job: JobContext
    ) -> None:
        stage, partition = task.stage_id, task.partition_id
        link.emit(
            self.logger_name,
            LEVELS["WARNING"],
            f"LakeTrace dropped {buf.dropped} executor record(s) ({buf.dropped_bytes} bytes) "
            f"of stage {stage} partition {partition}: over the per-task caps "
            "(max_records_per_task / max_bytes_per_task).",
            source="executor",
            fields={"dropped": buf.dropped},
            module="laketrace.executor",
            function="ExecutorLogger",
            hostname=task.host,
            pid=task.pid,
            record_id=f"x-{self.token}-{stage}-{partition}-dropped-{buf.dropped}",
            job=job,
        )


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
        if isinstance(value2, ExecutorRecord):
            value1.records.append(value2)
            return value1
        if isinstance(value2, TaskBuffer):
            value1.records.extend(value2.records)
            value1.dropped += value2.dropped
            value1.dropped_bytes += value2.dropped_bytes
            value1.bytes += value2.bytes
            value1.task = value1.task or value2.task
        return value1
