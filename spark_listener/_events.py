"""Turn Spark listener events into LakeTrace records and job context (py4j callbacks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from laketrace._levels import LEVELS
from laketrace._logger import set_job_context

FLUSH_GROUP = "laketrace-flush"


def _prop(props: Any, key: str) -> str | None:
    if props is None:
        return None
    try:
        value = props.getProperty(key)
    except Exception:
        return None
    return str(value) if value is not None else None


def _opt(value: Any) -> Any:
    """Unwrap a Scala Option from py4j (None for None/empty)."""
    try:
        return value.get() if value is not None and value.isDefined() else None
    except Exception:
        return value


class EventHandler:
    """Callback target for every SparkListenerInterface method (py4j calls it by name).

    Unknown methods (added in newer Spark releases) resolve to a no-op, so the listener
    never raises into Spark's listener bus.
    """

    def __init__(self, core: Any, on_job_end: Callable[[], None], on_app_end: Callable[[], None]):
        self.core = core
        self.on_job_end_cb = on_job_end
        self.on_app_end_cb = on_app_end
        self.lock = threading.Lock()
        self.jobs: dict[int, dict[str, Any]] = {}
        self.stage_ok: dict[tuple[int, int], int] = {}
        self.events = 0
        self.last_event_at = 0.0

    # ---- plumbing ----
    def __getattr__(self, name: str) -> Any:
        if name.startswith("on"):
            return self._ignore
        raise AttributeError(name)

    def _ignore(self, *args: Any) -> None:
        self.events += 1

    def _emit(self, level: str, msg: str, **fields: Any) -> None:
        core = self.core
        lvl = LEVELS[level]
        if lvl.no < core.min_no:
            return
        spark = fields.pop("_spark", None)
        rec = core.make_record(
            lvl,
            msg,
            extra={k: v for k, v in fields.items() if v is not None},
            source="listener",
            module="spark_listener",
            function="listener",
            spark=spark,
            inherit_context=False,
        )
        core.dispatch(rec)

    def _guard(fn: Callable) -> Callable:  # type: ignore[misc]
        def wrapped(self: EventHandler, event: Any) -> None:
            self.events += 1
            self.last_event_at = time.time()
            try:
                fn(self, event)
            except Exception as exc:  # never raise into the listener bus
                try:
                    self._emit("WARNING", f"LakeTrace listener could not handle an event: {exc!r}")
                except Exception:
                    pass

        wrapped.__name__ = fn.__name__
        return wrapped

    # ---- jobs ----
    @_guard
    def onJobStart(self, event: Any) -> None:
        props = event.properties()
        group = _prop(props, "spark.jobGroup.id")
        job_id = int(event.jobId())
        notebook = _prop(props, "spark.databricks.notebook.path") or _prop(
            props, "spark.synapse.context.notebookname"
        )
        desc = _prop(props, "spark.job.description")
        sql_id = _prop(props, "spark.sql.execution.id")
        info = {
            "start": time.time(),
            "group": group,
            "desc": desc,
            "notebook": notebook,
            "sql": sql_id,
            "stages": int(event.stageIds().size()),
        }
        with self.lock:
            self.jobs[job_id] = info
        if group == FLUSH_GROUP:
            return
        fields = {
            k: v
            for k, v in (("spark.job_description", desc), ("spark.sql_execution_id", sql_id))
            if v
        }
        set_job_context((job_id, None, None, None, group, notebook), fields)
        self._emit(
            "DEBUG",
            f"Spark job {job_id} started",
            stages=info["stages"],
            _spark=(job_id, None, None, None, group, notebook),
        )

    @_guard
    def onJobEnd(self, event: Any) -> None:
        job_id = int(event.jobId())
        with self.lock:
            info = self.jobs.pop(job_id, {})
            running = list(self.jobs.items())
        group = info.get("group")
        if running:
            jid, other = running[-1]
            set_job_context((jid, None, None, None, other.get("group"), other.get("notebook")))
        else:
            set_job_context(None)
        if group == FLUSH_GROUP:
            return  # the flush's own jobs never trigger flushes (or records)
        duration = time.time() - info.get("start", time.time())
        result = event.jobResult()
        spark = (job_id, None, None, None, group, info.get("notebook"))
        name = result.getClass().getSimpleName()
        if name.startswith("JobSucceeded"):
            self._emit(
                "INFO",
                f"Spark job {job_id} succeeded in {duration:.2f}s",
                duration_s=round(duration, 3),
                result="succeeded",
                _spark=spark,
            )
        else:
            reason = _failure_text(result)
            self._emit(
                "ERROR",
                f"Spark job {job_id} failed after {duration:.2f}s: {_first_line(reason)}",
                duration_s=round(duration, 3),
                result="failed",
                reason=reason,
                _spark=spark,
            )
        self.on_job_end_cb()

    # ---- stages and tasks ----
    @_guard
    def onStageCompleted(self, event: Any) -> None:
        info = event.stageInfo()
        stage_id = int(info.stageId())
        attempt = int(info.attemptNumber())
        with self.lock:
            ok = self.stage_ok.pop((stage_id, attempt), 0)
        failure = _opt(info.failureReason())
        if failure:
            self._emit(
                "ERROR",
                f"Spark stage {stage_id} (attempt {attempt}) failed: {_first_line(str(failure))}",
                reason=str(failure),
                stage_name=str(info.name()),
                succeeded_tasks=ok,
                _spark=(None, stage_id, None, attempt, None, None),
            )
        else:
            self._emit(
                "DEBUG",
                f"Spark stage {stage_id} completed: {ok} task(s) succeeded",
                stage_name=str(info.name()),
                succeeded_tasks=ok,
                num_tasks=int(info.numTasks()),
                _spark=(None, stage_id, None, attempt, None, None),
            )

    @_guard
    def onTaskEnd(self, event: Any) -> None:
        reason = event.reason()
        key = (int(event.stageId()), int(event.stageAttemptId()))
        if reason.getClass().getSimpleName().startswith("Success"):
            with self.lock:
                self.stage_ok[key] = self.stage_ok.get(key, 0) + 1
            return
        task = event.taskInfo()
        text = _failure_text(reason)
        self._emit(
            "ERROR",
            f"Spark task {int(task.taskId())} (stage {key[0]}, partition {int(task.partitionId())},"
            f" attempt {int(task.attemptNumber())}) failed: {_first_line(text)}",
            reason=text,
            executor_id=str(task.executorId()),
            executor_host=str(task.host()),
            _spark=(None, key[0], int(task.partitionId()), int(task.attemptNumber()), None, None),
        )

    # ---- executors and application ----
    @_guard
    def onExecutorRemoved(self, event: Any) -> None:
        self._emit(
            "WARNING",
            f"Spark executor {event.executorId()} removed: {event.reason()}",
            executor_id=str(event.executorId()),
            reason=str(event.reason()),
        )

    @_guard
    def onApplicationEnd(self, event: Any) -> None:
        self._emit("INFO", "Spark application ended")
        self.on_app_end_cb()


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _failure_text(reason: Any) -> str:
    """A task/job failure as text; Python UDF errors include Spark's Python traceback."""
    for attr in ("toErrorString", "description", "message"):
        fn = getattr(reason, attr, None)
        if fn is None:
            continue
        try:
            value = fn() if callable(fn) else fn
        except Exception:
            continue
        if value:
            text = str(value)
            if attr == "toErrorString" or "Traceback" in text:
                return text
    try:
        exc = reason.exception()
        return str(exc.getMessage() or exc.toString())
    except Exception:
        return str(reason)
