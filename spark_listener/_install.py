"""`install`: register the listener, keep Spark context in records, flush automatically."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from laketrace import LakeTraceLogger, flush_to_delta, runtime
from laketrace._units import parse_duration, parse_size
from laketrace.log import live_logger, set_job_context
from laketrace.spool.names import list_spool

from . import _spark_logs
from ._events import EventHandler, JsonSink, Py4jListener, _streaming_listener
from ._spark_logs import SparkLogs, jar_class

DEFAULT_FLUSH_BYTES = 64 * 1024 * 1024

_installed: dict[tuple[int, str], ListenerHandle] = {}
_lock = threading.Lock()


class Flusher:
    """Runs flushes on one background thread, debounced; never on the listener bus."""

    def __init__(self, handle: ListenerHandle) -> None:
        self.handle = handle
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.last = 0.0
        self.pending = False
        self.running = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="laketrace-flusher", daemon=True)
        self.thread.start()

    def request(self, *, force: bool = False) -> None:
        self.pending = True
        if force:
            self.last = 0.0
        self.wake.set()

    def _due(self) -> bool:
        h = self.handle
        if not self.pending:
            return False
        if time.monotonic() - self.last >= h.flush_interval:
            return True
        return h.sealed_bytes() >= h.flush_bytes

    def _run(self) -> None:
        # a request waits at most flush_interval: the timeout re-checks pending requests
        while not self.stop_event.is_set():
            self.wake.wait(self.handle.flush_interval)
            self.wake.clear()
            if self.stop_event.is_set():
                return
            if self.handle.timer_only:
                self.pending = True
            if self._due():
                self.flush_now()

    def flush_now(self, *, spark_ok: bool = True) -> Any:
        with self.running:
            self.pending = False
            self.last = time.monotonic()
            return self.handle.flush(spark_ok=spark_ok)


@dataclass
class ListenerHandle:
    """What `install` returns; ``uninstall()`` removes everything it set up."""

    spark: Any
    logger: LakeTraceLogger
    path: str | None
    table: str | None
    flush_interval: float
    flush_bytes: int
    listener: Any = None
    streaming: Any = None
    timer_only: bool = False
    kind: str = "none"
    queue: str = "none"
    flusher: Flusher | None = None
    handler: EventHandler | None = None
    #: the JVM appender writing Spark's driver log into the spool (None: off or unavailable)
    spark_logs: SparkLogs | None = None
    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _orig_stop: Any = None
    _active: bool = True
    #: path/table came from the logger's config (and follow it when the logger is replaced)
    target_from_config: bool = False

    @property
    def mode(self) -> str:
        """``"listener"`` or ``"timer"`` (the graceful-degradation fallback)."""
        return "timer" if self.timer_only else "listener"

    def current_logger(self) -> LakeTraceLogger:
        """The logger records go to now: a re-run ``get_logger`` cell with a new config
        replaces the installed one, and the listener follows it by name."""
        log = live_logger(self.logger.name)
        return log if log is not None else self.logger

    def sealed_bytes(self) -> int:
        total = 0
        log_dir = self.current_logger().log_dir
        if log_dir is None:  # a logger without spool (log_dir=None) has nothing to flush
            return 0
        for p, n in list_spool(log_dir):
            if n.sealed:
                try:
                    total += os.path.getsize(p)
                except OSError:
                    pass
        return total

    def flush(self, *, spark_ok: bool = True) -> Any:
        """Seal the spool and flush it now (Spark if usable, else delta-rs for paths)."""
        log = self.current_logger()
        if log.log_dir is None:  # log_dir=None: no spool, nothing to ship
            return None
        if self.target_from_config:
            self.path, self.table = log.config.path, log.config.table
        log.close()  # seal: the records so far become shippable
        if self.spark_logs is not None:
            self.spark_logs.seal()
        spark = self.spark if spark_ok and _spark_alive(self.spark) else None
        if spark is None and self.table is not None:
            self.errors.append("no live SparkSession for a table target; flush skipped")
            return None
        try:
            with _spark_logs.flushing(self.spark_logs):
                res = flush_to_delta(spark, log_dir=log.log_dir, path=self.path, table=self.table)
        except Exception as exc:  # the application never fails because of LakeTrace
            msg = f"LakeTrace automatic flush failed: {exc!r}"
            self.errors.append(msg)
            sys.stderr.write(msg + "\n")
            return None
        self.results.append(res)
        return res

    def uninstall(self) -> None:
        """Remove the listener(s), stop automatic flushing and restore ``spark.stop``."""
        if not self._active:
            return
        self._active = False
        self.detach_spark_logs()
        if self.flusher is not None:
            self.flusher.stop_event.set()
            self.flusher.wake.set()
            with self.flusher.running:  # let an in-flight flush finish before returning
                pass
        sc = _spark_context(self.spark)
        if self.listener is not None and sc is not None:
            try:
                sc._jsc.sc().removeSparkListener(self.listener)
                if self.kind == "jvm":
                    self.listener.setSink(None)
            except Exception:
                pass
        if self.streaming is not None:
            try:
                self.spark.streams.removeListener(self.streaming)
            except Exception:
                pass
        if self._orig_stop is not None:
            try:
                del self.spark.stop
            except AttributeError:
                pass
        set_job_context(None)
        with _lock:
            for key, h in list(_installed.items()):
                if h is self:
                    del _installed[key]

    def detach_spark_logs(self) -> None:
        """Stop capturing Spark's log: the appender leaves the root logger, its file is sealed."""
        if self.spark_logs is not None:
            self.spark_logs.detach()

    @property
    def spark_logs_dropped(self) -> int:
        """Spark log events the appender dropped because its buffer was full."""
        return self.spark_logs.counts()["dropped"] if self.spark_logs is not None else 0


def _spark_context(spark: Any) -> Any:
    try:
        return spark.sparkContext
    except Exception:
        return None


def _spark_alive(spark: Any) -> bool:
    if runtime.is_connect_session(spark):  # no SparkContext: ask the Connect client
        try:
            return not spark.is_stopped
        except Exception:
            return False
    sc = _spark_context(spark)
    try:
        return sc is not None and sc._jsc is not None and not sc._jsc.sc().isStopped()
    except Exception:
        return False


def install(
    spark: Any,
    logger: LakeTraceLogger,
    *,
    path: str | None = None,
    table: str | None = None,
    flush_interval: str | float = "5 min",
    flush_bytes: str | int = DEFAULT_FLUSH_BYTES,
    spark_logs: str | bool | None = "WARN",
    spark_logs_limit: int = _spark_logs.DEFAULT_LIMIT,
) -> ListenerHandle:
    """Register LakeTrace's listener on ``spark``; logs then land in Delta automatically.

    * driver records carry ``app_id``, ``job_id``, ``job_group``, ``notebook`` (and the job
      description / SQL execution id in ``context``) while a job runs;
    * job start/end, failed jobs/stages/tasks (with the Python traceback Spark reports),
      executor removal and application end become ``source="listener"`` records;
      successful tasks are counted per stage, not logged one by one;
    * the spool is flushed on a background thread after a job ends (at most once per
      ``flush_interval``, sooner when ``flush_bytes`` of sealed data wait), before
      ``spark.stop()``, at application end and at interpreter exit.

    * Spark's own driver log (log4j2) at ``spark_logs`` and above (``"WARN"``; None/False:
      off) becomes ``source="spark"`` records written by the JVM into the same spool, at
      most ``spark_logs_limit`` per minute per Spark logger and message (then one summary).

    Calling it again for the same session and logger returns the same handle. On Spark
    Connect, serverless/shared compute or any registration error it logs one WARNING and
    falls back to a periodic timer plus an exit-time flush (on Connect through the Connect
    writer, `laketrace.flush.connect`).
    """
    interval = _interval(flush_interval)
    spark_level = _spark_logs.parse_spark_logs(spark_logs)
    limit = _spark_logs.parse_limit(spark_logs_limit)
    fbytes = parse_size(flush_bytes) if isinstance(flush_bytes, str) else int(flush_bytes)
    if fbytes is None or fbytes <= 0:
        raise ValueError(
            f"spark_listener.install: flush_bytes must be a positive size like '64 MB', got "
            f"{flush_bytes!r}."
        )
    from_config = path is None and table is None
    if from_config:
        path, table = logger.config.path, logger.config.table
    key = (id(spark), logger.name)
    with _lock:
        existing = _installed.get(key)
        if existing is not None and existing._active:
            return existing
    handle = ListenerHandle(spark, logger, path, table, interval, fbytes)
    handle.target_from_config = from_config
    reason = None
    if runtime.is_connect_session(spark):
        reason = (
            "this is a Spark Connect session (Databricks serverless or shared compute): "
            "Python cannot register a listener on the server's JVM"
        )
    else:
        try:
            _register(handle)
        except Exception as exc:
            reason = f"registering the listener failed ({type(exc).__name__}: {exc})"
    if reason is not None:
        handle.timer_only = True
        logger.warning(
            "LakeTrace Spark listener unavailable: {}. Spark job context and failure records "
            "are off; the spool is flushed every {:.0f}s and at exit instead.",
            reason,
            interval,
        )
    if spark_level is not None and not runtime.is_connect_session(spark):
        _attach_spark_logs(handle, spark_level, limit)
    handle.flusher = Flusher(handle)
    _wrap_stop(handle)
    _register_exit(handle)
    with _lock:
        _installed[key] = handle
    return handle


def _attach_spark_logs(handle: ListenerHandle, level: str, limit: int) -> None:
    try:
        handle.spark_logs = _spark_logs.attach(handle.spark, handle.logger, level, limit=limit)
    except Exception as exc:
        handle.logger.warning(
            "LakeTrace cannot capture Spark's driver log ({}: {}); Spark log records are "
            "off, everything else works as before.",
            type(exc).__name__,
            str(exc)[:300],
        )


def _interval(value: str | float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = parse_duration(str(value).strip().lower()) or -1.0
    if seconds <= 0:
        raise ValueError(
            f"spark_listener.install: flush_interval must be a duration like '5 min' or "
            f"seconds, got {value!r}."
        )
    return seconds


def _register(handle: ListenerHandle) -> None:
    sc = handle.spark.sparkContext
    gateway = sc._gateway
    try:
        from pyspark.java_gateway import ensure_callback_server_started

        ensure_callback_server_started(gateway)
    except ImportError:  # older pyspark
        if gateway._callback_server is None:
            gateway.start_callback_server()
    hwr = weakref.ref(handle)

    def job_end() -> None:
        h = hwr()
        if h is not None and h.flusher is not None:
            h.flusher.request()

    def app_end() -> None:
        h = hwr()
        if h is not None and h.flusher is not None:
            h.detach_spark_logs()  # the context is gone: seal what Spark logged for the flush
            h.flusher.request(force=True)

    handler = EventHandler(handle.logger.name, job_end, app_end)
    try:
        listener = _jvm_listener(sc, JsonSink(handler))
        handle.kind = "jvm"
    except Exception as exc:  # e.g. a JVM that cannot load the jar: the py4j fallback
        listener = Py4jListener(handler)
        handle.kind = f"py4j ({type(exc).__name__}: {str(exc)[:200]})"
    handle.queue = _add_listener(sc, listener, own_queue=handle.kind != "jvm")
    handle.listener = listener
    handle.handler = handler
    if handle.kind == "jvm":
        return  # the JVM listener sees streaming query events itself (onOtherEvent)
    try:
        handle.streaming = _streaming_listener(handler)
        handle.spark.streams.addListener(handle.streaming)
    except Exception:
        handle.streaming = None


def _add_listener(sc: Any, listener: Any, *, own_queue: bool) -> str:
    """Put the JVM listener on an existing listener-bus queue; returns the queue's name.

    ``addSparkListener`` puts it on the "shared" queue, which Spark creates (with its own
    dispatch thread draining every event of every task) for the first such listener: on a
    2-core driver that thread alone cost several percent of a 20,000-task job. The
    executor-management queue always exists (Spark's heartbeat receiver is on it) and sees
    every event anyway, so the filtering listener rides along at almost no cost. The py4j
    fallback, slower per event, keeps a queue of its own.
    """
    bus = sc._jsc.sc()
    if not own_queue:
        try:
            bus.listenerBus().addToManagementQueue(listener)
            return "executorManagement"
        except Exception:  # not in this Spark build: the public API
            pass
    bus.addSparkListener(listener)
    return "shared"


def _jvm_listener(sc: Any, sink: JsonSink) -> Any:
    """Load io.laketrace.LakeTraceListener from the shipped jar into the driver JVM."""
    gateway = sc._gateway
    jvm = sc._jvm
    cls = jar_class(sc, "io.laketrace.LakeTraceListener")
    listener = cls.getConstructor(gateway.new_array(jvm.java.lang.Class, 0)).newInstance(
        gateway.new_array(jvm.java.lang.Object, 0)
    )
    listener.setSink(sink)  # a plain method call: py4j passes the Python proxy fine
    return listener


def _wrap_stop(handle: ListenerHandle) -> None:
    spark = handle.spark
    try:
        orig = spark.stop
    except Exception:
        return

    def stop_with_flush(*args: Any, **kwargs: Any) -> Any:
        # flush first, while the session can still run the flush's Spark jobs; Spark's
        # log capture ends before, so its file is sealed and shipped by this flush
        if handle._active and handle.flusher is not None:
            handle.detach_spark_logs()
            handle.flusher.flush_now()
            handle.uninstall()
        return orig(*args, **kwargs)

    try:
        spark.stop = stop_with_flush
        handle._orig_stop = orig
    except Exception:
        pass


def _register_exit(handle: ListenerHandle) -> None:
    ref = weakref.ref(handle)

    def at_exit() -> None:
        h = ref()
        if h is None or not h._active or h.flusher is None:
            return
        h.flusher.flush_now()

    if runtime.is_connect_session(handle.spark):
        # the Connect client runs every operation through concurrent.futures, which refuses
        # new work once the interpreter starts shutting down, before atexit handlers run;
        # threading's own exit hooks run earlier (the later registered first), so the flush
        # still can
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            try:
                register(at_exit)
                return
            except Exception:
                pass
    atexit.register(at_exit)
