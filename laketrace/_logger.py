"""The logger: `get_logger`, `LakeTraceLogger` and the per-config core that owns handlers."""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import itertools
import os
import sys
import threading
import types
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import _encoding
from . import runtime as _runtime
from ._config import (
    HANDLER_KEYS,
    ConfigError,
    LoggerConfig,
    check_keys,
    parse_handler_options,
    parse_logger_config,
)
from ._handlers import (
    CallableHandler,
    Handler,
    SpoolHandler,
    StreamHandler,
    TextFileHandler,
)
from ._levels import LEVELS, Level, parse_level
from ._record import Record, exc_info_from
from ._record import iso_utc as _iso
from ._spool import static_fragment

_getframe = sys._getframe


def _thread_name() -> str:
    return _current_thread().name


if isinstance(getattr(threading.main_thread(), "_name", None), str):
    # Thread.name is a Python property; its backing attribute is ~3x cheaper to read
    def _thread_name() -> str:
        return _current_thread()._name  # type: ignore[attr-defined]


_sys_modules = sys.modules
_ctxval = _encoding.context_value
_current_thread = threading.current_thread
_get_ident = threading.get_ident

#: contextvars-scoped fields of `contextualize` (shared by all loggers, like loguru)
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "laketrace_context", default=types.MappingProxyType({})
)
#: Spark job context tuple set by spark_listener (job_id, stage_id, partition_id,
#: task_attempt, job_group, notebook); None when unknown.
spark_context: contextvars.ContextVar[tuple | None] = contextvars.ContextVar(
    "laketrace_spark", default=None
)
#: the Spark job running now, as seen by spark_listener (a one-item list so the listener
#: thread can swap it without locks; the hot path only reads it)
_job_context: list[tuple | None] = [None]
_job_fields: list[dict[str, str] | None] = [None]


def set_job_context(value: tuple | None, fields: dict[str, str] | None = None) -> None:
    """Set the Spark context of driver records (used by spark_listener).

    ``value`` is ``(job_id, stage_id, partition_id, task_attempt, job_group, notebook)``;
    ``fields`` (job description, SQL execution id) are added to the records' context.
    """
    _job_fields[0] = fields or None
    _job_context[0] = value


class _Ids:
    """Per-process record-id source: a random prefix plus a counter (reset after fork)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16] + "-"
        self.counter = itertools.count(1)
        self.pid = os.getpid()


_ids = _Ids()
_NO_HANDLERS = 1_000


def _noop(self: Any, msg: Any = None, *args: Any, **fields: Any) -> None:
    return None


class _Core:
    """Handlers, config and identity shared by a logger and all its bound views."""

    def __init__(self, name: str, config: LoggerConfig, cfg_key: Any, cls: type) -> None:
        self.name = name
        self.config = config
        self.cfg_key = cfg_key
        self.cls = cls
        self.lock = threading.RLock()
        self.clock = config.clock
        self.redact = config.redact
        self.runtime = _runtime.detect_runtime()
        self.run_id = config.run_id or _runtime.run_id()
        self.hostname = _runtime.hostname()
        self.pid = os.getpid()
        self._sc: Any = None
        app = _runtime.spark_app()
        self.app_id, self.app_name = app.app_id, app.app_name
        self._frag: bytes | None = None
        self._hid = itertools.count(1)
        self.own: dict[int, Handler] = {}
        self.handlers: tuple[Handler, ...] = ()
        self.min_no = _NO_HANDLERS
        self.closed = False
        self.spool: SpoolHandler | None = None
        self.root: LakeTraceLogger | None = None
        self.fast: Any = None
        self.fast_queue: Any = None

    def next_id(self) -> int:
        return next(self._hid)

    def refresh(self) -> None:
        """Recompute the handler tuple and the per-level fast paths after any change."""
        with self.lock:
            handlers = tuple(self.own.values()) + tuple(_captures.values())
            self.handlers = handlers
            self.min_no = min((h.levelno for h in handlers), default=_NO_HANDLERS)
            for level, method in _LEVEL_METHODS.items():
                setattr(self.cls, method.__name__, method if level.no >= self.min_no else _noop)
            self.cls.exception = _exception_method if 40 >= self.min_no else _noop  # type: ignore[attr-defined]
            spool = self.spool
            plain = (
                spool is not None
                and len(handlers) == 1
                and spool.opts.filter is None
                and not spool.file._rot_callables
                and self.redact is None
            )
            only = handlers[0] if len(handlers) == 1 else None
            self.fast = spool.file if plain and only is spool else None  # type: ignore[union-attr]
            self.fast_queue = only if plain and getattr(only, "inner", None) is spool else None
            if self._frag is None:
                self._frag = self._default_fragment()

    def _spark_refresh(self) -> None:
        sc = _runtime.active_spark_context()
        if sc is not self._sc:
            self._sc = sc
            app = _runtime.spark_app(sc)
            self.app_id, self.app_name = app.app_id, app.app_name
            self._frag = self._default_fragment()

    def encode_raw(
        self,
        level: Level,
        msg: str,
        bctx: dict[str, str],
        fields: Mapping[str, Any],
        ts: float,
        module: str | None,
        function: str,
        line: int,
        thread_name: str,
    ) -> bytes:
        """The spool line of a plain driver record, from call-time values (the fast path)."""
        if fields:
            context = bctx.copy()
            for k, v in fields.items():
                context[k] = v if type(v) is str else _ctxval(v)
        else:
            context = bctx
        ids = _ids
        d = {
            "ts": _iso(ts),
            "level": level,
            "level_no": level.no,
            "msg": msg,
            "context": context,
            "record_id": f"{ids.prefix}{next(ids.counter):x}",
            "thread_name": thread_name,
            "module": module,
            "function": function,
            "line": line,
        }
        try:
            data = _encoding._fast_dumps(d)
        except Exception:
            data = _encoding.dumps(d)
        return data[:-1] + self._frag  # type: ignore[operator]

    def _default_fragment(self) -> bytes:
        """The pre-encoded static tail of this logger's driver records."""
        probe = Record.__new__(Record)
        probe.logger_name, probe.source, probe.run_id = self.name, "driver", self.run_id
        probe.hostname, probe.pid, probe.runtime = self.hostname, _ids.pid, self.runtime
        probe.app_id, probe.app_name, probe.spark = self.app_id, self.app_name, None
        return static_fragment(probe)

    def emit(
        self,
        level: Level,
        msg: Any,
        args: tuple,
        fields: dict[str, Any],
        view: LakeTraceLogger,
        depth: int,
        exc: Any = None,
    ) -> None:
        if type(msg) is not str:
            msg = _safe_str(msg)
        if fields:
            if "exc_info" in fields:
                exc = fields.pop("exc_info")
            if "{" in msg or args:
                msg = _format_message(msg, args, fields)
        elif args:
            msg = _format_message(msg, args, fields)
        ctx = _context.get()
        f = _getframe(depth)
        ts = self.clock()
        mod = _sys_modules.get("pyspark.context")
        if mod is not None and mod.SparkContext._active_spark_context is not self._sc:
            self._spark_refresh()
        spark = spark_context.get() or _job_context[0]
        if exc is None and spark is None:
            sink = self.fast
            queued = self.fast_queue
            if sink is not None or queued is not None:
                # the common cases: only the spool listens, directly or via enqueue=True;
                # capture call-time values once, encode here or on the writer thread
                if ctx:
                    fields = {**ctx, **fields}
                raw = (
                    level,
                    msg,
                    view._bctx,
                    fields,
                    ts,
                    f.f_globals.get("__name__"),
                    f.f_code.co_name,
                    f.f_lineno,
                    _thread_name(),
                )
                if sink is not None:
                    sink.write(self.encode_raw(*raw), ts)
                else:
                    queued.put_raw(raw)
                return
        bound = view._bound
        if ctx or fields:
            extra = {**bound, **ctx, **fields} if bound else {**ctx, **fields}
        else:
            extra = bound.copy() if bound else {}
        if spark is not None and spark is _job_context[0] and _job_fields[0]:
            extra = {**_job_fields[0], **extra}
        msg_extra = _redact(self.redact, msg, extra) if self.redact is not None else None
        if msg_extra is not None:
            msg, extra = msg_extra
        code = f.f_code
        thread = _current_thread()
        rec = Record.__new__(Record)
        rec.ts = ts
        rec.level = level
        rec.level_no = level.no
        rec.message = msg
        rec.logger_name = self.name
        rec.extra = extra
        rec.exception = exc_info_from(exc) if exc is not None else None
        rec.thread_id = thread.ident  # type: ignore[assignment]
        rec.thread_name = thread.name
        rec.pid = _ids.pid
        rec.hostname = self.hostname
        rec.module = f.f_globals.get("__name__")
        rec.function = code.co_name
        rec.line = f.f_lineno
        rec.file = code.co_filename
        rec.source = "driver"
        rec.record_id = f"{_ids.prefix}{next(_ids.counter):x}"
        rec.run_id = self.run_id
        rec.runtime = self.runtime
        rec.app_id = self.app_id
        rec.app_name = self.app_name
        rec.spark = spark
        rec._line = None
        rec._frag = self._frag if spark is None else None
        no = level.no
        for h in self.handlers:
            if no >= h.levelno:
                h.handle(rec)

    def dispatch(self, rec: Record) -> None:
        """Send an externally built record (stdlib bridge, executors, listener) to handlers."""
        no = rec.level_no
        if no < self.min_no:
            return
        if self.redact is not None:
            rec.message, rec.extra = _redact(self.redact, rec.message, rec.extra)
        for h in self.handlers:
            if no >= h.levelno:
                h.handle(rec)

    def make_record(
        self,
        level: Level,
        msg: str,
        *,
        extra: dict[str, Any] | None = None,
        exc: Any = None,
        ts: float | None = None,
        logger_name: str | None = None,
        source: str = "driver",
        module: str | None = None,
        function: str | None = None,
        line: int | None = None,
        file: str | None = None,
        thread_id: int | None = None,
        thread_name: str | None = None,
        pid: int | None = None,
        hostname: str | None = None,
        record_id: str | None = None,
        spark: tuple | None = None,
        inherit_context: bool = True,
    ) -> Record:
        """Build a record with explicit fields (the slow, general path)."""
        self._spark_refresh()
        thread = _current_thread()
        rec = Record.__new__(Record)
        rec.ts = self.clock() if ts is None else ts
        rec.level = level
        rec.level_no = level.no
        rec.message = msg
        rec.logger_name = logger_name or self.name
        rec.extra = {**_context.get(), **(extra or {})} if inherit_context else dict(extra or {})
        rec.exception = exc_info_from(exc) if exc is not None else None
        rec.thread_id = thread.ident if thread_id is None else thread_id  # type: ignore[assignment]
        rec.thread_name = thread.name if thread_name is None else thread_name
        rec.pid = _ids.pid if pid is None else pid
        rec.hostname = hostname or self.hostname
        rec.module, rec.function, rec.line, rec.file = module, function, line, file
        rec.source = source
        rec.record_id = record_id or _ids.prefix + format(next(_ids.counter), "x")
        rec.run_id = self.run_id
        rec.runtime = self.runtime
        rec.app_id = self.app_id
        rec.app_name = self.app_name
        rec.spark = spark if spark is not None else (spark_context.get() or _job_context[0])
        rec._line = None
        rec._frag = None
        return rec

    def wrap(self, handler: Handler) -> Handler:
        """Put ``handler`` behind a writer thread when its options say ``enqueue=True``."""
        if not handler.opts.enqueue:
            return handler
        from ._enqueue import QueuedHandler

        return QueuedHandler(handler, self._drop_notice, encode_raw=self.encode_raw)

    def _drop_notice(self, dropped: int) -> Record:
        return self.make_record(
            LEVELS["WARNING"],
            f"LakeTrace dropped {dropped} record(s): the enqueue queue was full "
            "(queue_full='drop'). Raise queue_size or use queue_full='block' to keep them.",
            extra={"dropped": dropped},
            module="laketrace._enqueue",
            function="QueuedHandler.handle",
        )

    def close(self) -> None:
        with self.lock:
            for h in list(self.own.values()):
                try:
                    h.flush()
                    h.close()
                except Exception as exc:  # closing must never raise into the app at exit
                    sys.stderr.write(f"LakeTrace: closing handler {h.id} failed: {exc!r}\n")

    def after_fork_child(self) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self._frag = self._default_fragment()
        self._frag = self._default_fragment()


def _safe_str(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:
        try:
            return repr(obj)
        except Exception:
            return f"<unprintable {type(obj).__name__}>"


def _format_message(msg: str, args: tuple, fields: dict[str, Any]) -> str:
    if "{" not in msg:
        if args:
            return msg + " " + " ".join(_safe_str(a) for a in args)
        return msg
    try:
        return msg.format(*args, **fields)
    except Exception:
        # a message that is not a template (e.g. contains JSON) keeps its text; the args
        # are appended so nothing the caller passed is lost
        if args:
            return msg + " " + " ".join(_safe_str(a) for a in args)
        return msg


def _redact(redact: Callable[[str], str], msg: str, extra: dict[str, Any]) -> tuple[str, dict]:
    from ._encoding import context_value

    msg = redact(msg)
    if extra:
        out = {}
        for k, v in extra.items():
            text = v if type(v) is str else context_value(v)
            masked = redact(text)
            out[k] = masked if (masked != text or type(v) is str) else v
        extra = out
    return msg, extra


def _make_level_method(level: Level) -> Callable[..., None]:
    def method(self: LakeTraceLogger, msg: Any, *args: Any, **fields: Any) -> None:
        self._core.emit(level, msg, args, fields, self, 2)

    method.__name__ = method.__qualname__ = level.lower()
    method.__doc__ = (
        f"Log ``msg`` at {level} (``str.format`` args; keyword args become fields).\n\n"
        f"    >>> log.{level.lower()}('loaded {{}} rows', 3, table='sales')  # doctest: +SKIP\n"
    )
    return method


_LEVEL_METHODS = {lvl: _make_level_method(lvl) for lvl in LEVELS.values()}
_ERROR = LEVELS["ERROR"]


def _exception_method(self: LakeTraceLogger, msg: Any, *args: Any, **fields: Any) -> None:
    exc = fields.pop("exc_info", True)
    self._core.emit(_ERROR, msg, args, fields, self, 2, exc)


class LakeTraceLogger:
    """A structured logger writing lake records to a local spool (and other handlers).

    Get one with `laketrace.get_logger`; methods ``trace``..``critical`` log at their
    level, keyword arguments become fields, ``bind`` adds fields for a derived logger.

    >>> from laketrace import get_logger
    >>> log = get_logger("doc", {"log_dir": "/tmp/lt-doc", "stdout": False})
    >>> log.bind(step="load").info("loaded {} rows", 3, table="sales")
    """

    __slots__ = ("__weakref__", "_bctx", "_bound", "_core")

    trace: Callable[..., None]
    debug: Callable[..., None]
    info: Callable[..., None]
    success: Callable[..., None]
    warning: Callable[..., None]
    error: Callable[..., None]
    critical: Callable[..., None]
    exception: Callable[..., None]

    def __init__(self, core: _Core, bound: dict[str, Any] | None = None) -> None:
        self._core = core
        self._bound = bound or {}
        # the bound fields pre-encoded for the `context` column, once per bind()
        self._bctx = {str(k): _ctxval(v) for k, v in self._bound.items()}

    @property
    def name(self) -> str:
        """The logger name (the ``logger`` column)."""
        return self._core.name

    @property
    def log_dir(self) -> str:
        """The spool directory."""
        return self._core.config.log_dir

    @property
    def run_id(self) -> str:
        return self._core.run_id

    @property
    def level(self) -> Level:
        """The lowest level any handler accepts (calls below it cost almost nothing)."""
        return parse_level(min(self._core.min_no, 50))

    @property
    def extra(self) -> dict[str, Any]:
        """A copy of the bound fields."""
        return dict(self._bound)

    def bind(self, **fields: Any) -> LakeTraceLogger:
        """A logger that adds ``fields`` to every record; it shares this logger's handlers.

        >>> req_log = log.bind(request_id="r1")  # doctest: +SKIP
        """
        return self._core.cls(self._core, {**self._bound, **fields})

    @staticmethod
    @contextlib.contextmanager
    def contextualize(**fields: Any) -> Iterator[None]:
        """Add ``fields`` to every record logged inside the ``with`` block (contextvars).

        Scoped to the current thread / asyncio task. A thread started inside the block
        sees the fields only if it runs in a copy of the context:
        ``threading.Thread(target=contextvars.copy_context().run, args=(fn,))``.
        """
        token = _context.set({**_context.get(), **fields})
        try:
            yield
        finally:
            _context.reset(token)

    def log(self, level: str | int, msg: Any, *args: Any, **fields: Any) -> None:
        """Log at a level given by name or number."""
        lvl = parse_level(level)
        if lvl.no >= self._core.min_no:
            self._core.emit(lvl, msg, args, fields, self, 2)

    def add_handler(self, spec: Mapping[str, Any]) -> int:
        """Add a sink; returns its int id (stable until removed).

        ``spec["sink"]`` is ``"stdout"``, ``"stderr"``, a file path or a callable; the other
        keys are the per-handler options (level, filter, formatter, format, json,
        serialize, catch, rotation, retention, compression, enqueue, file_mode). Adding
        the same spec twice (e.g. a re-run notebook cell) returns the existing id.
        """
        return _add_handler(self._core, spec)

    def remove_handler(self, handler_id: int) -> None:
        """Remove (and close) the handler with id ``handler_id``."""
        core = self._core
        with core.lock:
            handler = core.own.pop(handler_id, None)
            if handler is None:
                raise ValueError(
                    f"no handler with id {handler_id!r} on logger {core.name!r}; existing ids: "
                    f"{sorted(core.own)}."
                )
            if handler is core.spool or getattr(handler, "inner", None) is core.spool:
                core.spool = None
            core.refresh()
        assert handler is not None
        handler.flush()
        handler.close()

    def remove_all_handlers(self) -> None:
        """Remove every handler, including the spool (calls become no-ops)."""
        for hid in list(self._core.own):
            self.remove_handler(hid)

    def handlers(self) -> dict[int, str]:
        """``{id: description}`` of the handlers."""
        return {hid: h.describe() for hid, h in self._core.own.items()}

    def flush(self) -> None:
        """Push buffered records to disk (not to Delta: see `flush_to_delta`)."""
        for h in self._core.handlers:
            h.flush()

    def close(self) -> None:
        """Drain queues, seal the active spool file and release files.

        The logger stays usable: a later record opens a new spool file.
        """
        self._core.close()

    def flush_to_delta(self, spark: Any = None, **options: Any) -> Any:
        """Seal the active spool file and ship the spool to this logger's Delta target.

        Uses the configured ``path``/``table`` unless given here; other keyword options
        are those of `laketrace.flush_to_delta`.

        >>> log.flush_to_delta()  # doctest: +SKIP
        """
        from .flush import flush_to_delta

        self.close()
        cfg = self._core.config
        if "path" not in options and "table" not in options:
            options["path"], options["table"] = cfg.path, cfg.table
        options.setdefault("log_dir", cfg.log_dir)
        return flush_to_delta(spark, **options)

    def for_executors(
        self,
        mode: str = "accumulator",
        *,
        level: str | int = "INFO",
        max_records_per_task: int = 1000,
        max_bytes_per_task: int | str = 256 * 1024,
        spark: Any = None,
    ) -> Any:
        """A picklable proxy for code that runs on executors (UDFs, ``mapPartitions``...).

        In ``"accumulator"`` mode the records of each successful task travel with the
        task result and land in this logger's spool as the task completes, with
        ``source="executor"``, stage, partition, attempt, host and call site. Records of
        failed task attempts are not delivered (see ``executor_stderr``). ``"noop"``
        drops executor records. On Spark Connect or where accumulators are unavailable
        it falls back to ``"noop"`` with one WARNING.

        >>> proxy = log.for_executors(level="INFO")  # doctest: +SKIP
        >>> udf(lambda x: (proxy.info("saw {}", x), x)[1])  # doctest: +SKIP
        """
        from ._executor import make_proxy

        return make_proxy(
            self,
            mode=mode,
            level=level,
            max_records_per_task=max_records_per_task,
            max_bytes_per_task=max_bytes_per_task,
            spark=spark,
        )

    def __reduce__(self) -> tuple:
        # A driver logger captured in a UDF closure pickles by reference: tasks get a
        # no-op (or stderr) task logger instead of "cannot pickle '_thread.lock'".
        core = self._core
        return (
            _unpickle_logger,
            (core.name, core.min_no, core.config.executor_stderr, dict(self._bound)),
        )

    def tail(self, n: int = 50, *, file: Any = None) -> list[dict[str, Any]]:
        """Print the last ``n`` records of this logger's spool, human-formatted; returns them."""
        from ._tail import tail_records

        return tail_records(self.log_dir, n, logger=self.name, file=file)

    def __repr__(self) -> str:
        return (
            f"<LakeTraceLogger {self.name!r} level={self.level} log_dir={self.log_dir!r} "
            f"handlers={len(self._core.own)}>"
        )


def _add_handler(core: _Core, spec: Mapping[str, Any]) -> int:
    check_keys(spec, HANDLER_KEYS, "add_handler")
    if "sink" not in spec:
        raise ConfigError(
            "add_handler: 'sink' is required: 'stdout', 'stderr', a file path or a callable, "
            "e.g. log.add_handler({'sink': 'stderr', 'level': 'WARNING'})."
        )
    sink = spec["sink"]
    key = _freeze(spec)
    with core.lock:
        for hid, h in core.own.items():
            if getattr(h, "_spec_key", None) == key:
                return hid
        opts = parse_handler_options(spec, default_level=core.config.level)
        hid = core.next_id()
        handler: Handler
        if sink in ("stdout", "stderr"):
            handler = StreamHandler(hid, opts, sink)
        elif isinstance(sink, (str, os.PathLike)):
            handler = TextFileHandler(hid, opts, os.fspath(sink))
        elif callable(sink):
            handler = CallableHandler(hid, opts, sink)
        else:
            raise ConfigError(
                f"add_handler 'sink': expected 'stdout', 'stderr', a file path or a callable, "
                f"got {sink!r}."
            )
        handler = core.wrap(handler)
        handler._spec_key = key  # type: ignore[union-attr,attr-defined]
        core.own[hid] = handler
        _all_handlers.add(handler)
        core.refresh()
        return hid


def _freeze(value: Any) -> Any:
    """A hashable, comparable key for a config (callables compare by identity)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


_registry: dict[str, _Core] = {}
_registry_lock = threading.RLock()
_all_handlers: weakref.WeakSet[Handler] = weakref.WeakSet()
_captures: dict[int, Handler] = {}


def get_logger(name: str = "laketrace", config: Mapping[str, Any] | None = None) -> LakeTraceLogger:
    """Return the logger for ``name`` and ``config``, creating it on first use.

    The same name and config return the same logger object, so re-running a notebook
    cell does not add handlers or duplicate output. A new config for an existing name
    replaces the old logger (its spool file is sealed). Inside a Spark task this returns
    a no-op proxy that never creates files.

    >>> log = get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False})
    >>> get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False}) is log
    True
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"get_logger: name must be a non-empty string, got {name!r}.")
    if _runtime.in_spark_task():
        from ._executor import task_logger

        return task_logger(name, config)  # type: ignore[return-value]
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(
            f"get_logger config must be a dict of options, got {type(config).__name__}: {config!r}."
        )
    key = _freeze(dict(config or {}))
    with _registry_lock:
        core = _registry.get(name)
        if core is not None and core.cfg_key == key and core.root is not None:
            return core.root
        cfg = parse_logger_config(config, _runtime.detect_runtime())
        cls = type("LakeTraceLogger", (LakeTraceLogger,), {"__slots__": ()})
        new = _Core(name, cfg, key, cls)
        spool_hid = new.next_id()
        new.spool = SpoolHandler(
            spool_hid,
            cfg.handler,
            cfg.log_dir,
            name,
            new.run_id,
            has_target=bool(cfg.path or cfg.table),
            clock=cfg.clock,
        )
        new.own[spool_hid] = new.wrap(new.spool)
        _all_handlers.add(new.own[spool_hid])
        if cfg.stdout:
            hid = new.next_id()
            new.own[hid] = StreamHandler(hid, cfg.stdout_handler, "stdout")
            _all_handlers.add(new.own[hid])
        new.refresh()
        new.root = cls(new)
        if core is not None:
            core.close()
        _registry[name] = new
        return new.root  # type: ignore[return-value]


def registered_core(name: str) -> _Core | None:
    """The live core of the logger called ``name`` (None if there is none)."""
    return _registry.get(name)


def _unpickle_logger(name: str, level_no: int, to_stderr: bool, bound: dict) -> Any:
    """Rebuild a pickled driver logger: the live one on the driver, a task logger in tasks."""
    core = None if _runtime.in_spark_task() else _registry.get(name)
    if core is None:
        from ._executor import TaskLogger

        return TaskLogger(name, level_no, to_stderr, bound)
    return core.cls(core, bound) if bound else core.root


def registered_cores() -> list[_Core]:
    with _registry_lock:
        return list(_registry.values())


def add_capture(handler: Handler) -> None:
    """Attach ``handler`` to every logger (used by `laketrace.testing`)."""
    with _registry_lock:
        _captures[id(handler)] = handler
        for core in _registry.values():
            core.refresh()


def remove_capture(handler: Handler) -> None:
    with _registry_lock:
        _captures.pop(id(handler), None)
        for core in _registry.values():
            core.refresh()


def _close_all() -> None:
    from ._lifecycle import maintenance

    for core in registered_cores():
        core.close()
    # let in-flight compression finish; an interrupted one is cleaned up by recover()
    maintenance.drain(timeout=30)


def _after_fork_child() -> None:
    global _registry_lock
    _registry_lock = threading.RLock()
    _ids.reset()
    from ._lifecycle import maintenance

    maintenance.after_fork_child()
    for core in list(_registry.values()):
        core.after_fork_child()
    for h in list(_all_handlers):
        h.after_fork_child()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
