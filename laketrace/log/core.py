"""The per-logger core: handlers, identity and the one path from a log call to its handlers.

`Core.emit` is the hot path. When only the spool listens (directly or through
``enqueue=True``) and there is no exception or Spark job context, the call-time values
are encoded straight into a spool line (or queued as a `RawCall`); otherwise a `Record` is
built and each handler at or below the record's level gets it. While only the plain spool
listens, the level methods are generated (`fastcall`) and write the common call without
coming here; every other call still comes here.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from types import MethodType
from typing import Any

from .. import runtime as _runtime
from ..record import encoding as _encoding
from ..record.encoder import RawCall, merge_context, static_fragment
from ..record.levels import Level
from ..record.message import format_message
from ..record.record import JobContext, Record, bad_exc_info, bad_exc_info_text, exc_info_from
from ..record.record import iso_utc as _iso
from ..record.sanitize import safe_repr, safe_str
from ..sinks.enqueue import QueuedHandler
from ..sinks.files import SpoolHandler
from ..sinks.handlers import RAISE_MARK, Handler, report
from ..spool.ids import record_ids as _ids
from .calls import call_site as _call_site
from .calls import sites as _sites
from .calls import thread_name as _thread_name
from .calls import threads as _threads
from .config import LoggerConfig
from .context import _job, _job_fields, fields_var
from .handler_admin import HandlerAdmin
from .masked import emit_masked

_getframe = sys._getframe
_sys_modules = sys.modules
_current_thread = threading.current_thread
_get_ident = threading.get_ident
#: the context key of the record written for a log call that failed inside LakeTrace
ERROR_KEY = "laketrace.error"
#: ints below this magnitude always have a decimal text (see sys.set_int_max_str_digits)
_BIG = 10**18
#: the level of a logger without handlers: above every real level, so calls are no-ops
NO_HANDLERS = 1_000


class Core(HandlerAdmin):
    """Handlers, config and identity shared by a logger and all its bound views."""

    def __init__(self, name: str, config: LoggerConfig, cfg_key: Any, cls: type) -> None:
        self.name = name
        self.config = config
        self.cfg_key = cfg_key
        self.cls = cls
        self.lock = threading.RLock()
        self.clock = config.clock
        self.redact = config.redact
        self.sanitize = config.sanitize
        self.runtime = _runtime.detect_runtime()
        self.run_id = config.run_id or _runtime.run_id()
        self.hostname = _runtime.hostname()
        self._sc: Any = None
        app = _runtime.spark_app()
        self.app_id, self.app_name = app.app_id, app.app_name
        self._frag = self._default_fragment()
        self._hid = itertools.count(1)
        self.own: dict[int, Handler] = {}
        self.handlers: tuple[Handler, ...] = ()
        self.min_no = NO_HANDLERS
        self.spool: SpoolHandler | None = None
        self.root: Any = None  # the LakeTraceLogger without bound fields
        self.fast: Any = None
        self.fast_queue: QueuedHandler | None = None
        self.errors = 0  # log calls that failed (reported once on stderr)
        self.masked_fast: Any = None
        self.masked_queue: Any = None
        #: call sites of the generated spool methods (`fastcall`): tails depend on `_frag`
        self.tails: dict[int, Any] = {}
        if self.redact is not None or self.sanitize is not None:
            self.emit = MethodType(emit_masked, self)  # type: ignore[method-assign]

    def next_id(self) -> int:
        return next(self._hid)

    def refresh(self, captures: tuple[Handler, ...]) -> None:
        """Recompute the handler tuple and the fast paths after any change of handlers."""
        with self.lock:
            handlers = tuple(self.own.values()) + captures
            self.handlers = handlers
            self.min_no = min((h.levelno for h in handlers), default=NO_HANDLERS)
            spool = self.spool
            plain = (
                spool is not None
                and len(handlers) == 1
                and spool.opts.filter is None
                and not spool.file._rot_callables
            )
            only = handlers[0] if len(handlers) == 1 else None
            fast = spool.file if plain and only is spool else None  # type: ignore[union-attr]
            inner = getattr(only, "inner", None)
            fast_queue = only if plain and inner is spool else None
            # a masking core takes its own emit (`emit_masked`): the plain one never masks
            masking = self.redact is not None or self.sanitize is not None
            self.fast, self.fast_queue = (None, None) if masking else (fast, fast_queue)  # type: ignore[assignment]
            self.masked_fast, self.masked_queue = (fast, fast_queue) if masking else (None, None)
            self.cls._set_levels(self.min_no, self)  # type: ignore[attr-defined]

    def _spark_refresh(self) -> None:
        sc = _runtime.active_spark_context()
        if sc is not self._sc:
            self._sc = sc
            app = _runtime.spark_app(sc)
            self.app_id, self.app_name = app.app_id, app.app_name
            self._frag = self._default_fragment()
            self.tails.clear()

    def _default_fragment(self) -> bytes:
        """The pre-encoded static tail of this logger's driver records."""
        probe = Record.__new__(Record)
        probe.logger_name, probe.source, probe.run_id = self.name, "driver", self.run_id
        probe.hostname, probe.pid, probe.runtime = self.hostname, _ids.pid, self.runtime
        probe.app_id, probe.app_name, probe.job = self.app_id, self.app_name, None
        probe.exception = None
        if self.redact is not None:  # the logger name and app name as the records carry them
            self.redact.origin(probe)
        return static_fragment(probe)

    def emit(
        self,
        level: Level,
        msg: Any,
        args: tuple,
        fields: dict[str, Any],
        view: Any,
        depth: int,
        exc: Any = None,
    ) -> None:
        """One log call; ``depth`` is the number of frames between the caller and here.

        The common case (only the spool listens, no exception, no Spark job context) is
        encoded and written right here: the same line `encode_call` builds, without the
        calls. Never raises into the caller (try/except costs nothing in CPython 3.11+
        until something raises), except what a handler with ``catch=False`` raises.
        """
        try:
            if fields and "exc_info" in fields:
                exc = fields.pop("exc_info")
            if type(msg) is not str or args or (fields and "{" in msg):
                msg = format_message(msg, args, fields)
            ctx = fields_var.get()
            f = _getframe(depth)
            ts = self.clock()
            mod = _sys_modules.get("pyspark.context")
            if mod is not None and mod.SparkContext._active_spark_context is not self._sc:
                self._spark_refresh()
            fast = self.fast
            if fast is None or exc is not None or _job[0] is not None:
                self._emit_other(level, msg, ctx, fields, view, f, ts, exc)
                return
            context = view._bctx
            if ctx:
                fields = {**ctx, **fields}
            if fields:  # `merge_context`, inline for str and small int values
                context = {**context}
                for k, v in fields.items():
                    t = type(v)
                    if type(k) is not str or not (t is str or (t is int and -_BIG < v < _BIG)):
                        context = merge_context(view._bctx, fields)
                        break
                    context[k] = v if t is str else str(v)
            code = f.f_code
            site = _sites.get(id(code) + (f.f_lasti << 48))
            if site is None or site[0] is not code:
                site = _call_site(f)
            try:
                thread = _threads[_get_ident()]._name
            except Exception:  # a thread threading does not know (yet)
                thread = _thread_name()
            d = {
                "ts": _iso(ts),
                "level": level,
                "level_no": level.no,
                "msg": msg,
                "context": context,
                "record_id": next(_ids.ids),
                "thread_name": thread,
                "module": site[1],
                "function": code.co_name,
                "line": site[2],
            }
            try:
                data = _encoding.fast_dumps(d)  # looked up per call: set_backend() swaps it
            except Exception:
                data = _encoding.dumps(d)
            try:
                fast.write(data[:-1] + self._frag, ts)
            except Exception as error:  # the spool handler's own containment
                self.spool.failed(error)  # type: ignore[union-attr]
        except Exception as error:
            if getattr(error, RAISE_MARK, False):  # from a handler with catch=False
                raise
            self.call_failed(error, level, msg)

    def call_failed(self, error: BaseException, level: Level, msg: Any) -> None:
        """A log call failed inside LakeTrace: count it, report it and write what it can."""
        self.errors += 1
        try:
            self.contained(error, level, msg)
        except Exception:  # e.g. RecursionError at the stack limit: counted, never raised
            pass

    def _emit_other(
        self,
        level: Level,
        msg: str,
        ctx: Any,
        fields: dict[str, Any],
        view: Any,
        f: Any,
        ts: float,
        exc: Any,
    ) -> None:
        """`emit` when more than the spool listens, or for an exception or job context."""
        job = _job[0]
        queue = self.fast_queue
        if exc is None and job is None and queue is not None:
            # enqueue=True with only the spool listening: encoded on the writer thread
            if ctx:
                fields = {**ctx, **fields}
            code = f.f_code
            module = f.f_globals.get("__name__")
            if type(module) is not str:
                module = None if module is None else safe_str(module)
            raw = RawCall(
                level, level.no, msg, view._bctx, fields, next(_ids.ids), ts, module,
                code.co_name, f.f_lineno, _thread_name(), self._frag,
            )  # fmt: skip
            queue.put_raw(raw)
            return
        rec = self._record(level, msg, ctx, fields, view._bound, ts, f, job, exc)
        no = level.no
        for h in self.handlers:
            if no >= h.levelno:
                h.handle(rec)

    def contained(self, error: BaseException, level: Level | None = None, msg: Any = None) -> None:
        """Report the first error a log call ran into on stderr (the caller counts them in
        `errors`) and still write the call's record (its message and the error, as
        ``laketrace.error``)."""
        if self.errors == 1:
            report(
                f"LakeTrace: a log call on logger {self.name!r} failed with "
                f"{safe_repr(error)}; the application keeps running. Further errors of "
                "this logger are counted silently (logger._core.errors)."
            )
        if level is None:
            return
        try:
            rec = self.make_record(
                level,
                msg if type(msg) is str else safe_str(msg),
                extra={ERROR_KEY: f"log call failed: {safe_repr(error)}"},
                ts=time.time(),
                inherit_context=False,
            )
            for h in self.handlers:
                if level.no >= h.levelno:
                    h.handle(rec)
        except Exception:
            pass

    def _record(
        self,
        level: Level,
        msg: str,
        ctx: Any,
        fields: dict[str, Any],
        bound: dict[str, Any],
        ts: float,
        f: Any,
        job: JobContext | None,
        exc: Any,
    ) -> Record:
        """The `Record` of a log call (the general path)."""
        if ctx or fields:
            extra = {**bound, **ctx, **fields} if bound else {**ctx, **fields}
        else:
            extra = bound.copy() if bound else {}
        if job is not None and _job_fields[0]:
            extra = {**_job_fields[0], **extra}
        if exc is not None and bad_exc_info(exc):
            extra["exc_info"] = bad_exc_info_text(exc)
        code = f.f_code
        thread = _current_thread()
        rec = Record.__new__(Record)
        rec.ts, rec.level, rec.level_no, rec.message = ts, level, level.no, msg
        rec.logger_name, rec.extra = self.name, extra
        rec.exception = exc_info_from(exc) if exc is not None else None
        rec.thread_id, rec.thread_name = thread.ident, thread.name  # type: ignore[assignment]
        rec.pid, rec.hostname = _ids.pid, self.hostname
        rec.module, rec.function = f.f_globals.get("__name__"), code.co_name
        rec.line, rec.file = f.f_lineno, code.co_filename
        rec.source, rec.record_id = "driver", next(_ids.ids)
        rec.run_id, rec.runtime = self.run_id, self.runtime
        rec.app_id, rec.app_name, rec.job = self.app_id, self.app_name, job
        rec._line = None
        rec._frag = self._frag if job is None else None
        if self.redact is not None:
            self.redact.record(rec)
        if self.sanitize is not None:
            rec.message = self.sanitize(rec.message)
        return rec

    def dispatch(self, rec: Record) -> None:
        """Send an externally built record (stdlib bridge, executors, listener) to handlers."""
        no = rec.level_no
        if no < self.min_no:
            return
        if self.redact is not None:
            self.redact.record(rec)
        if self.sanitize is not None:
            rec.message = self.sanitize(rec.message)
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
        job: JobContext | None = None,
        inherit_context: bool = True,
    ) -> Record:
        """Build a record with explicit fields (records that are not log calls)."""
        self._spark_refresh()
        thread = _current_thread()
        rec = Record.__new__(Record)
        rec.ts = self.clock() if ts is None else ts
        rec.level, rec.level_no, rec.message = level, level.no, msg
        rec.logger_name = logger_name or self.name
        ctx = fields_var.get() if inherit_context else None
        rec.extra = {**ctx, **(extra or {})} if ctx else dict(extra or {})
        rec.exception = exc_info_from(exc) if exc is not None else None
        if rec.exception is None and exc is not None and bad_exc_info(exc):
            rec.extra["exc_info"] = bad_exc_info_text(exc)
        rec.thread_id = thread.ident if thread_id is None else thread_id  # type: ignore[assignment]
        rec.thread_name = thread.name if thread_name is None else thread_name
        rec.pid = _ids.pid if pid is None else pid
        rec.hostname = hostname or self.hostname
        rec.module, rec.function, rec.line, rec.file = module, function, line, file
        rec.source = source
        rec.record_id = record_id or _ids.next()
        rec.run_id, rec.runtime = self.run_id, self.runtime
        rec.app_id, rec.app_name = self.app_id, self.app_name
        rec.job = job if job is not None else _job[0]
        rec._line = None
        rec._frag = None
        return rec

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
        self._frag = self._default_fragment()
        self.tails.clear()
