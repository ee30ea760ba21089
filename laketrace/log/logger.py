"""`get_logger` and `LakeTraceLogger`: the API a user calls (levels, bind, contextualize,
handlers, flush, tail, executors)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Literal

from .. import runtime as _runtime
from ..errors import ConfigError
from ..executor.task_logger import TaskLogger, task_logger
from ..record.encoder import context_map
from ..record.levels import LEVELS, Level, parse_level
from ..record.message import MISSING
from ..sinks.files import SpoolHandler
from ..sinks.handlers import StreamHandler
from . import legacy, registry
from .config import LoggerConfig, parse_logger_config
from .context import contextualize as _contextualize
from .core import Core
from .fastcall import spool_method
from .redact import Redactor, compile_redactor
from .structured import structured_call

ExecutorMode = Literal["accumulator", "noop"]


def _noop(self: Any, msg: Any = None, /, *args: Any, **fields: Any) -> None:
    return None


def _make_level_method(level: Level) -> Callable[..., None]:
    def method(self: LakeTraceLogger, msg: Any = MISSING, /, *args: Any, **fields: Any) -> None:
        if msg is MISSING:
            msg = fields.pop("msg", "")
        self._core.emit(level, msg, args, fields, self, 2)

    method.__name__ = method.__qualname__ = level.lower()
    method.__doc__ = (
        f"Log ``msg`` at {level} (``str.format`` args; keyword args become fields).\n\n"
        f"    >>> log.{level.lower()}('loaded {{}} rows', 3, table='sales')  # doctest: +SKIP\n"
    )
    return method


_LEVEL_METHODS = {lvl: _make_level_method(lvl) for lvl in LEVELS.values()}
_ERROR = LEVELS["ERROR"]


def _exception_method(
    self: LakeTraceLogger, msg: Any = MISSING, /, *args: Any, **fields: Any
) -> None:
    if msg is MISSING:
        msg = fields.pop("msg", "")
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

    def __init__(self, core: Core, bound: dict[str, Any] | None = None) -> None:
        self._core = core
        self._bound = bound or {}
        # the bound fields pre-encoded for the `context` column, once per bind()
        self._bctx = context_map(self._bound)

    @classmethod
    def _set_levels(cls, min_no: int, core: Core) -> None:
        """Make calls below ``min_no`` no-ops on this logger's class (one per logger); while
        only the plain spool listens, the others write the common call themselves."""
        for level, method in _LEVEL_METHODS.items():
            if level.no < min_no:
                method = _noop
            elif core.fast is not None:
                method = spool_method(core, level, method)
            setattr(cls, level.lower(), method)
        cls.exception = _exception_method if _ERROR.no >= min_no else _noop  # type: ignore[assignment]

    @property
    def name(self) -> str:
        """The logger name (the ``logger`` column)."""
        return self._core.name

    @property
    def log_dir(self) -> str | None:
        """The spool directory (None when configured with ``log_dir=None``: no spool)."""
        return self._core.config.log_dir

    @property
    def config(self) -> LoggerConfig:
        """The validated configuration (read-only), e.g. ``log.config.path``."""
        return self._core.config

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
    def contextualize(**fields: Any) -> AbstractContextManager[None]:
        """Add ``fields`` to every record logged inside the ``with`` block (contextvars).

        Scoped to the current thread / asyncio task. A thread started inside the block
        sees the fields only if it runs in a copy of the context:
        ``threading.Thread(target=contextvars.copy_context().run, args=(fn,))``.
        """
        return _contextualize(**fields)

    def log(
        self, level: str | int = MISSING, msg: Any = MISSING, /, *args: Any, **fields: Any
    ) -> None:
        """Log at a level given by name or number."""
        if level is MISSING:
            level = fields.pop("level", "INFO")
        if msg is MISSING:
            msg = fields.pop("msg", "")
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
        return self._core.add_handler(spec)

    def remove_handler(self, handler_id: int) -> None:
        """Remove (and close) the handler with id ``handler_id``."""
        handler = self._core.remove_handler(handler_id)
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

        Uses the configured ``path``/``table`` (and ``storage_options``) unless given here;
        other keyword options are those of `laketrace.flush_to_delta`.

        >>> log.flush_to_delta()  # doctest: +SKIP
        """
        from ..flush.run import flush_to_delta

        cfg = self._core.config
        if cfg.log_dir is None:
            raise ConfigError(
                f"logger {self.name!r} was configured with log_dir=None: it writes no spool "
                "files, so there is nothing to ship to Delta. Give it a log_dir (or leave "
                "log_dir out for the runtime's default) to use flush_to_delta."
            )
        self.close()
        if "path" not in options and "table" not in options:
            options["path"], options["table"] = cfg.path, cfg.table
        options.setdefault("log_dir", cfg.log_dir)
        if cfg.storage_options:
            options.setdefault("storage_options", cfg.storage_options)
        return flush_to_delta(spark, **options)

    def for_executors(
        self,
        mode: ExecutorMode = "accumulator",
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
        from ..executor.proxy import make_proxy

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
            (core.name, core.min_no, core.config.executor_stderr, dict(self._bound), core.redact),
        )

    def tail(self, n: int = 50, *, file: Any = None) -> list[dict[str, Any]]:
        """Print the last ``n`` records of this logger's spool, human-formatted; returns them.

        A logger without spool (``log_dir=None``) prints one line saying so and returns [].
        """
        from ..read.tail import tail_records

        if self.log_dir is None:
            print(f"(logger {self.name!r} has no spool: log_dir=None)", file=file)
            return []
        return tail_records(self.log_dir, n, logger=_spool_name(self._core), file=file)

    def log_structured(
        self,
        message: Any,
        level: str | int = "INFO",
        data: Any = None,
        mask_sensitive: bool = True,
    ) -> None:
        """Log ``message`` with ``data``'s items as fields (LakeTrace 1.x).

        ``message`` is taken literally (never a template). With ``mask_sensitive`` (the
        default) secret-named keys and the built-in secret and PII patterns are masked in
        ``data`` first, as `laketrace.mask_pii` does, whatever the logger's ``redact``.

        >>> log.log_structured("login", data={"user": "john@example.com"})  # doctest: +SKIP
        """
        lvl = parse_level(level)
        if lvl.no < self._core.min_no:
            return
        msg, fields = structured_call(message, data, mask_sensitive)
        self._core.emit(lvl, msg, (), fields, self, 2)

    def upload_log_to_lakehouse(self, target_path: str, max_retries: int = 2) -> bool:
        """Copy this run's records of this logger (sealed and active spool files, one JSON line
        each) into one file at ``target_path``; True when it is there (LakeTrace 1.x).

        On Fabric ``Files/...`` goes through the ``/lakehouse/default`` mount or
        ``notebookutils.fs``; on Databricks ``/Volumes``, ``/dbfs`` or ``dbutils.fs``;
        elsewhere ``target_path`` is a local path. The file is written whole (a temp name
        renamed, or one ``put`` with overwrite), never appended to; failures are retried
        ``max_retries`` times, then it returns False with one WARNING instead of raising.
        `flush_to_delta` is the table-shaped successor.
        """
        from .upload import upload_log

        return upload_log(self, target_path, max_retries=max_retries)

    def __repr__(self) -> str:
        return (
            f"<LakeTraceLogger {self.name!r} level={self.level} log_dir={self.log_dir!r} "
            f"handlers={len(self._core.own)}>"
        )


def _unpickle_logger(
    name: str, level_no: int, to_stderr: bool, bound: dict, redact: Redactor | None = None
) -> Any:
    """Rebuild a pickled driver logger: the live one on the driver, a task logger in tasks."""
    core = None if _runtime.in_spark_task() else registry.find_core(name)
    if core is None:
        return TaskLogger(name, level_no, to_stderr, bound, redact=redact)
    return core.cls(core, bound) if bound else core.root


def get_logger(
    name: str = "laketrace",
    config: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> LakeTraceLogger:
    """Return the logger for ``name`` and ``config``, creating it on first use.

    The same name and config return the same logger object, so re-running a notebook
    cell does not add handlers or duplicate output. A new config for an existing name
    replaces the old logger (its spool file is sealed). ``run_id`` (LakeTrace 1.x's
    argument) is the same as config ``{"run_id": ...}``. Inside a Spark task this returns
    a no-op proxy that never creates files.

    >>> log = get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False})
    >>> get_logger("etl", {"log_dir": "/tmp/lt-doc", "stdout": False}) is log
    True
    """
    return build_logger(name, config, run_id, reuse=True)


def build_logger(
    name: str, config: Mapping[str, Any] | None, run_id: str | None, *, reuse: bool
) -> LakeTraceLogger:
    """`get_logger` (``reuse=True``) and `laketrace.create_logger` (a new logger always)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"get_logger: name must be a non-empty string, got {name!r}.")
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(
            f"get_logger config must be a dict of options, got {type(config).__name__}: {config!r}."
        )
    config = _with_run_id(config, run_id)
    if _runtime.in_spark_task():
        raw = legacy.translate(config or {}, warn=False).config
        redact = compile_redactor(raw.get("redact", False))
        return task_logger(name, raw, redact=redact)  # type: ignore[return-value]
    key = registry.freeze(dict(config or {}))
    with registry.lock():
        old = registry.find_core(name)
        if reuse and old is not None and old.cfg_key == key and old.root is not None:
            return old.root  # type: ignore[no-any-return]
        new = _new_core(name, parse_logger_config(config, _runtime.detect_runtime()), key)
        if old is not None:
            old.close()
        registry.put_core(new)
    if new.config.log_dir is None:
        new.root.info(
            "LakeTrace: logger {!r} has log_dir=None: no spool files are written, records go "
            "to stdout and added handlers only, and nothing will reach Delta.",
            name,
        )
    return new.root  # type: ignore[no-any-return]


def _with_run_id(config: Mapping[str, Any] | None, run_id: str | None) -> Mapping[str, Any] | None:
    if run_id is None or run_id == "":  # 1.x treated an empty run id as none
        return config
    given = (config or {}).get("run_id")
    if given is not None and given != run_id:
        raise ConfigError(
            f"get_logger: run_id={run_id!r} and config run_id={given!r} disagree; give one."
        )
    return {**(config or {}), "run_id": run_id}


def _new_core(name: str, cfg: LoggerConfig, key: Any) -> Core:
    """A core with its spool (unless ``log_dir`` is None) and stdout handlers and its own
    logger class."""
    cls = type("LakeTraceLogger", (LakeTraceLogger,), {"__slots__": ()})
    core = Core(name, cfg, key, cls)
    if cfg.log_dir is not None:
        hid = core.next_id()
        core.spool = SpoolHandler(
            hid,
            cfg.handler,
            cfg.log_dir,
            _spool_name(core),
            core.run_id,
            has_target=bool(cfg.path or cfg.table),
            clock=cfg.clock,
        )
        core.attach(hid, core.wrap(core.spool))
    if cfg.stdout:
        hid = core.next_id()
        core.attach(hid, StreamHandler(hid, cfg.stdout_handler, "stdout"))
    core.refresh(registry.captures())  # level methods even without any handler
    core.root = cls(core)
    return core


def _spool_name(core: Core) -> str:
    """The logger name as spool file names carry it: masked like the ``logger`` column."""
    return core.redact(core.name) if core.redact is not None else core.name


__all__ = ["ExecutorMode", "LakeTraceLogger", "build_logger", "get_logger"]
