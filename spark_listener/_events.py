"""Turn Spark listener events into LakeTrace records and job context.

Two front ends feed one `EventHandler`: `JsonSink` receives the compact JSON events that
the JVM listener (``jvm/laketrace-listener.jar``) forwards after filtering on the
listener bus, and `Py4jListener` is the pure-py4j fallback implementing
``SparkListenerInterface`` method by method.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from laketrace import runtime
from laketrace.log import ExternalSource, set_job_context
from laketrace.record import LEVELS, JobContext, rendered_exception

from ._failures import cap_reason, parse_failure


class EventHandler:
    """Spark events as plain values -> records, job context and flush requests."""

    def __init__(
        self, logger_name: str, on_job_end: Callable[[], None], on_app_end: Callable[[], None]
    ) -> None:
        self.source = ExternalSource(
            logger_name, source="listener", module="spark_listener", function="listener"
        )
        self.on_job_end_cb = on_job_end
        self.on_app_end_cb = on_app_end
        self.lock = threading.Lock()
        self.jobs: dict[int, dict[str, Any]] = {}
        self.events = 0
        self.jobs_ended = 0

    def _emit(
        self, level: str, msg: str, job: JobContext | None = None, exc: Any = None, **fields: Any
    ) -> None:
        self.source.emit(
            LEVELS[level],
            msg,
            fields={k: v for k, v in fields.items() if v is not None},
            job=job,
            exc=exc,
        )

    def _failed(self, what: str, reason: str | None, job: JobContext | None, **fields: Any) -> None:
        """An ERROR record for a failure: ``msg`` ends with the root cause, the raw reason
        (capped) stays in ``context['reason']``."""
        failure = parse_failure(reason)
        exc = None
        if failure.exception is not None:  # the exception and traceback columns
            exc = rendered_exception(failure.exception, failure.traceback)
        self._emit(
            "ERROR", f"{what}: {failure.summary}", job, exc, reason=cap_reason(reason), **fields
        )

    def safely(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run a handler; never let an exception reach Spark's listener bus."""
        self.events += 1
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            try:
                self._emit("WARNING", f"LakeTrace listener could not handle an event: {exc!r}")
            except Exception:
                pass

    def job_started(
        self,
        job_id: int,
        group: str | None,
        desc: str | None,
        sql: str | None,
        notebook: str | None,
        stages: int,
    ) -> None:
        info = {
            "start": time.time(),
            "group": group,
            "desc": desc,
            "notebook": notebook,
            "sql": sql,
            "stages": stages,
        }
        with self.lock:
            self.jobs[job_id] = info
        if group == runtime.FLUSH_JOB_GROUP:
            return
        fields = {
            k: v for k, v in (("spark.job_description", desc), ("spark.sql_execution_id", sql)) if v
        }
        job = JobContext(job_id, job_group=group, notebook=notebook)
        set_job_context(job, fields)
        self._emit("DEBUG", f"Spark job {job_id} started", job, stages=stages)

    def job_ended(self, job_id: int, ok: bool, reason: str | None) -> None:
        self.jobs_ended += 1
        with self.lock:
            info = self.jobs.pop(job_id, {})
            running = list(self.jobs.items())
        if running:
            jid, other = running[-1]
            set_job_context(
                JobContext(jid, job_group=other.get("group"), notebook=other.get("notebook"))
            )
        else:
            set_job_context(None)
        group = info.get("group")
        if group == runtime.FLUSH_JOB_GROUP:
            return  # the flush's own jobs never trigger flushes (or records)
        duration = time.time() - info.get("start", time.time())
        job = JobContext(job_id, job_group=group, notebook=info.get("notebook"))
        timing = {"duration_s": round(duration, 3), "result": "succeeded" if ok else "failed"}
        if ok:
            self._emit("INFO", f"Spark job {job_id} succeeded in {duration:.2f}s", job, **timing)
        else:
            self._failed(f"Spark job {job_id} failed after {duration:.2f}s", reason, job, **timing)
        self.on_job_end_cb()

    def stage_completed(
        self, stage_id: int, attempt: int, name: str, num_tasks: int, ok: int, failure: str | None
    ) -> None:
        job = JobContext(stage_id=stage_id, task_attempt=attempt)
        if failure:
            self._failed(
                f"Spark stage {stage_id} (attempt {attempt}) failed",
                failure,
                job,
                stage_name=name,
                succeeded_tasks=ok,
            )
        else:
            self._emit(
                "DEBUG",
                f"Spark stage {stage_id} completed: {ok} task(s) succeeded",
                job,
                stage_name=name,
                succeeded_tasks=ok,
                num_tasks=num_tasks,
            )

    def task_failed(
        self,
        task_id: int,
        stage_id: int,
        partition: int,
        attempt: int,
        executor: str,
        host: str,
        reason: str,
    ) -> None:
        self._failed(
            f"Spark task {task_id} (stage {stage_id}, partition {partition}, attempt {attempt}) "
            "failed",
            reason,
            JobContext(stage_id=stage_id, partition_id=partition, task_attempt=attempt),
            executor_id=executor,
            executor_host=host,
        )

    def executor_removed(self, executor_id: str, reason: str) -> None:
        self._emit(
            "WARNING",
            f"Spark executor {executor_id} removed: {reason}",
            executor_id=executor_id,
            reason=reason,
        )

    def app_ended(self) -> None:
        self._emit("INFO", "Spark application ended")
        self.on_app_end_cb()

    def query_started(self, query_id: str, run_id: str, name: str | None) -> None:
        self._emit(
            "INFO", f"streaming query {name or query_id} started", query_id=query_id, run=run_id
        )

    def query_progress(
        self, query_id: str, name: str | None, batch: int, rows: int, rate: float
    ) -> None:
        self._emit(
            "DEBUG",
            f"streaming query {name or query_id} batch {batch}: {rows} rows at {rate:.1f} rows/s",
            query_id=query_id,
            batch=batch,
            rows=rows,
        )

    def query_terminated(self, query_id: str, run_id: str, error: str | None) -> None:
        if error:
            self._failed(
                f"streaming query {query_id} terminated with an exception",
                error,
                None,
                query_id=query_id,
                run=run_id,
            )
        else:
            self._emit("INFO", f"streaming query {query_id} terminated", query_id=query_id)


class JsonSink:
    """py4j ``java.util.function.Consumer`` receiving the JVM listener's JSON events."""

    class Java:
        implements = ["java.util.function.Consumer"]

    def __init__(self, handler: EventHandler) -> None:
        self.handler = handler

    def accept(self, payload: Any) -> None:
        self.handler.safely(self._dispatch, str(payload))

    def andThen(self, other: Any) -> Any:
        return self

    def _dispatch(self, payload: str) -> None:
        ev = json.loads(payload)
        h = self.handler
        kind = ev.get("e")
        if kind == "jobStart":
            h.job_started(
                ev["job"],
                ev.get("group"),
                ev.get("desc"),
                ev.get("sql"),
                ev.get("nb"),
                ev.get("stages", 0),
            )
        elif kind == "jobEnd":
            h.job_ended(ev["job"], bool(ev.get("ok")), ev.get("reason"))
        elif kind == "stageDone":
            h.stage_completed(
                ev["stage"],
                ev.get("attempt", 0),
                ev.get("name") or "",
                ev.get("tasks", 0),
                ev.get("ok", 0),
                ev.get("failure"),
            )
        elif kind == "taskFailed":
            h.task_failed(
                ev["task"],
                ev["stage"],
                ev["partition"],
                ev["attempt"],
                ev.get("executor") or "",
                ev.get("host") or "",
                ev.get("reason") or "",
            )
        elif kind == "executorRemoved":
            h.executor_removed(ev.get("id") or "", ev.get("reason") or "")
        elif kind == "appEnd":
            h.app_ended()
        elif kind == "queryStarted":
            h.query_started(ev["id"], ev.get("run") or "", ev.get("name"))
        elif kind == "queryProgress":
            h.query_progress(
                ev["id"], ev.get("name"), ev.get("batch", 0), ev.get("rows", 0), ev.get("rate", 0.0)
            )
        elif kind == "queryTerminated":
            h.query_terminated(ev["id"], ev.get("run") or "", ev.get("error"))


def _prop(props: Any, key: str) -> str | None:
    if props is None:
        return None
    try:
        value = props.getProperty(key)
    except Exception:
        return None
    return str(value) if value is not None else None


def _opt(value: Any) -> Any:
    try:
        return value.get() if value is not None and value.isDefined() else None
    except Exception:
        return value


def _failure_text(reason: Any) -> str:
    """A task/job failure as text; Python UDF errors include Spark's Python traceback."""
    fn = getattr(reason, "toErrorString", None)
    if fn is not None:
        try:
            return str(fn())
        except Exception:
            pass
    try:
        exc = reason.exception()
        return str(exc.getMessage() or exc.toString())
    except Exception:
        return str(reason)


class Py4jListener:
    """Fallback: implements SparkListenerInterface over py4j, one callback per event.

    Every method Spark may call resolves (unknown, newer ones to a no-op), so the listener
    never raises. Costs a py4j round trip per task event: the JVM listener is preferred.
    """

    class Java:
        implements = ["org.apache.spark.scheduler.SparkListenerInterface"]

    def __init__(self, handler: EventHandler) -> None:
        self.handler = handler
        self.stage_ok: dict[tuple[int, int], int] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on"):
            return self._ignore
        raise AttributeError(name)

    def _ignore(self, *args: Any) -> None:
        self.handler.events += 1

    def toString(self) -> str:
        return "LakeTracePy4jListener"

    def hashCode(self) -> int:
        return id(self) & 0x7FFFFFFF

    def equals(self, other: Any) -> bool:
        return other is self

    def onJobStart(self, e: Any) -> None:
        p = e.properties()
        nb = next((v for v in (_prop(p, k) for k in runtime.PROP_NOTEBOOK) if v), None)
        self.handler.safely(
            self.handler.job_started,
            int(e.jobId()),
            _prop(p, runtime.PROP_JOB_GROUP),
            _prop(p, runtime.PROP_JOB_DESCRIPTION),
            _prop(p, runtime.PROP_SQL_EXECUTION_ID),
            nb,
            int(e.stageIds().size()),
        )

    def onJobEnd(self, e: Any) -> None:
        result = e.jobResult()
        ok = result.getClass().getSimpleName().startswith("JobSucceeded")
        self.handler.safely(
            self.handler.job_ended, int(e.jobId()), ok, None if ok else _failure_text(result)
        )

    def onTaskEnd(self, e: Any) -> None:
        reason = e.reason()
        key = (int(e.stageId()), int(e.stageAttemptId()))
        if reason.getClass().getSimpleName().startswith("Success"):
            self.handler.events += 1
            self.stage_ok[key] = self.stage_ok.get(key, 0) + 1
            return
        t = e.taskInfo()
        self.handler.safely(
            self.handler.task_failed,
            int(t.taskId()),
            key[0],
            int(t.partitionId()),
            int(t.attemptNumber()),
            str(t.executorId()),
            str(t.host()),
            _failure_text(reason),
        )

    def onStageCompleted(self, e: Any) -> None:
        s = e.stageInfo()
        key = (int(s.stageId()), int(s.attemptNumber()))
        failure = _opt(s.failureReason())
        self.handler.safely(
            self.handler.stage_completed,
            key[0],
            key[1],
            str(s.name()),
            int(s.numTasks()),
            self.stage_ok.pop(key, 0),
            str(failure) if failure else None,
        )

    def onExecutorRemoved(self, e: Any) -> None:
        self.handler.safely(self.handler.executor_removed, str(e.executorId()), str(e.reason()))

    def onApplicationEnd(self, e: Any) -> None:
        self.handler.safely(self.handler.app_ended)


def _streaming_listener(handler: EventHandler) -> Any:
    """A Python StreamingQueryListener, for the py4j fallback only (it adds a bus queue)."""
    from pyspark.sql.streaming import StreamingQueryListener

    class LakeTraceStreamingListener(StreamingQueryListener):
        def onQueryStarted(self, event: Any) -> None:
            handler.safely(handler.query_started, str(event.id), str(event.runId), event.name)

        def onQueryProgress(self, event: Any) -> None:
            p = event.progress
            handler.safely(
                handler.query_progress,
                str(p.id),
                p.name,
                p.batchId,
                p.numInputRows,
                p.processedRowsPerSecond or 0.0,
            )

        def onQueryIdle(self, event: Any) -> None:
            pass

        def onQueryTerminated(self, event: Any) -> None:
            handler.safely(
                handler.query_terminated, str(event.id), str(event.runId), event.exception
            )

    return LakeTraceStreamingListener()
