"""`emit_masked`: `Core.emit` for a core that masks (``redact``) or sanitises messages."""

from __future__ import annotations

import sys
from typing import Any

from ..record.encoder import RawCall, context_map, encode_call
from ..record.levels import Level
from ..record.message import format_message
from ..record.sanitize import safe_str
from ..sinks.handlers import RAISE_MARK
from ..spool.ids import record_ids as _ids
from .calls import thread_name as _thread_name
from .context import _job, fields_var

_getframe = sys._getframe
_sys_modules = sys.modules


def emit_masked(
    self: Any,
    level: Level,
    msg: Any,
    args: tuple,
    fields: dict[str, Any],
    view: Any,
    depth: int,
    exc: Any = None,
) -> None:
    """`emit` for a core that masks (``redact``) or sanitises messages.

    When only the spool listens (and there is no exception or job context), the masked
    message and fields are encoded straight into a spool line, as `emit` does for plain
    cores; the line equals what the general path (`_record`, then `lake_line`) writes.
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
        job = _job[0]
        sink, queue = self.masked_fast, self.masked_queue
        if exc is None and job is None and (sink is not None or queue is not None):
            bound = view._bound
            extra = {**bound, **ctx, **fields} if bound or ctx else fields
            redact = self.redact
            thread = _thread_name()
            if redact is not None:
                msg, extra = redact.mask_call(msg, extra)
                thread = redact.name(thread)
            if self.sanitize is not None:
                msg = self.sanitize(msg)
            code = f.f_code
            rid = next(_ids.ids)
            module = f.f_globals.get("__name__")
            if type(module) is not str and module is not None:  # never a user object raw
                module = safe_str(module)  # to the encoder (orjson segfaults on some)
            if sink is not None:
                context = context_map(extra) if extra else {}
                line = encode_call(
                    ts, level, level.no, msg, context, rid, thread, module, code.co_name,
                    f.f_lineno, self._frag,
                )  # fmt: skip
                try:
                    sink.write(line, ts)
                except Exception as error:  # the spool handler's own containment
                    self.spool.failed(error)  # type: ignore[union-attr]
            else:
                raw = RawCall(
                    level, level.no, msg, {}, extra, rid, ts, module, code.co_name, f.f_lineno,
                    thread, self._frag,
                )  # fmt: skip
                queue.put_raw(raw)
            return
        rec = self._record(level, msg, ctx, fields, view._bound, ts, f, job, exc)
        no = level.no
        for h in self.handlers:
            if no >= h.levelno:
                h.handle(rec)
    except Exception as error:
        if getattr(error, RAISE_MARK, False):  # from a handler with catch=False
            raise
        self.errors += 1
        try:
            self.contained(error, level, msg)
        except Exception:
            pass
