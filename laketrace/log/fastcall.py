"""Level methods made for one logger when only its spool listens: the common call, inlined.

`Core.refresh` gives a logger class these methods (`spool_method`) while the handler set is
the plain spool alone (no filter, rotation callables, redaction or sanitiser); any other
handler set gets the general ones, which call `Core.emit`. A generated method writes the
common call (a ``str`` message without ``{}`` arguments, no ``exc_info``, no
`contextualize` fields, no Spark job context, an unchanged SparkContext) straight into the
spool file and hands every other call to `Core.emit`, which writes the same line.

Per call only the timestamp, message, fields and record id are encoded: the rest of the
line after the record id (thread name, call site and the logger's static tail) is encoded
once per call site and thread name (`site_tail`) and appended as bytes. The bytes equal
what `encode_call` builds for the same values.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from ..record import encoding as _encoding
from ..record.encoder import merge_context
from ..record.levels import Level
from ..record.message import MISSING
from ..record.record import iso_utc
from ..record.sanitize import safe_str
from ..sinks.handlers import RAISE_MARK
from ..spool.ids import record_ids as _ids
from .calls import thread_name as _thread_name
from .calls import threads as _threads
from .context import _job, fields_var

_getframe = sys._getframe
_modules_get = sys.modules.get
_get_ident = threading.get_ident
_fields_get = fields_var.get
#: ints below this magnitude always have a decimal text (see sys.set_int_max_str_digits)
_BIG = 10**18
_NEG_BIG = -_BIG  # (not negated per call: that makes a new int each time)
#: cached call sites (and thread names per site) per logger before the cache starts over
_MAX_SITES = 4096
_MAX_THREADS = 64
#: the line's start up to the millisecond of the last call, with that millisecond (one
#: tuple, replaced whole, so a thread never reads one call's text with another's ms)
_start: list[tuple[int, bytes]] = [(-1, b"")]
#: the last three microsecond digits, the end of the ts value and the comma after it
_US = tuple(f'{i:03d}Z",'.encode() for i in range(1000))


def line_start(ts: float) -> bytes:
    """``{"ts":"`` and `iso_utc` text of ``ts`` up to the millisecond (remembered)."""
    iso = iso_utc(ts)
    start = b'{"ts":"' + iso[:-4].encode()
    _start[0] = (int(ts * 1_000_000 + 0.5) // 1000, start)  # as `iso_utc` rounds
    return start


def site_entry(tails: dict[int, Any], f: Any) -> tuple[Any, dict[str, bytes], tuple]:
    """The cache entry of frame ``f``'s call site: (code, {thread name: tail}, site fields)."""
    module = f.f_globals.get("__name__")
    if type(module) is not str:
        module = None if module is None else safe_str(module)
    if len(tails) > _MAX_SITES:
        tails.clear()
    code = f.f_code
    # the entry holds the code object, so its id cannot be reused while cached; two sites
    # of one code object never share a key, a key shared with another code object is
    # rebuilt (the caller checks the entry's code)
    entry: tuple[Any, dict[str, bytes], tuple] = (code, {}, (module, code.co_name, f.f_lineno))
    tails[id(code) + f.f_lasti] = entry
    return entry


def site_tail(entry: tuple[Any, dict[str, bytes], tuple], thread: str, frag: bytes) -> bytes:
    """The line after the record id's digits: thread name, call site, static tail."""
    module, function, line = entry[2]
    d = {"thread_name": thread, "module": module, "function": function, "line": line}
    try:
        body = _encoding.fast_dumps(d)
    except Exception:  # e.g. a lone surrogate in a thread name
        body = _encoding.dumps(d)
    tail = b'",' + body[1:-1] + frag
    tails = entry[1]
    if len(tails) > _MAX_THREADS:
        tails.clear()
    tails[thread] = tail
    return tail


def spool_method(core: Any, level: Level, general: Callable[..., None]) -> Callable[..., None]:
    """A level method writing the common call straight to ``core.fast`` (see module doc)."""
    emit, sink, spool, clock, tails = core.emit, core.fast, core.spool, core.clock, core.tails
    mid = b'"level":' + _encoding.dumps(str(level)) + b',"level_no":%d,' % level.no

    def method(self: Any, msg: Any = MISSING, /, *args: Any, **fields: Any) -> None:
        if msg is MISSING:
            msg = fields.pop("msg", "")
        try:
            if (
                core.fast is not sink  # a bound method saved before the handler set changed
                or args
                or type(msg) is not str
                or _job[0] is not None
                or _fields_get()
                or (fields and ("{" in msg or "exc_info" in fields))
            ):
                return emit(level, msg, args, fields, self, 2)
            mod = _modules_get("pyspark.context")
            if mod is not None and mod.SparkContext._active_spark_context is not core._sc:
                return emit(level, msg, args, fields, self, 2)
            f = _getframe(1)
            ts = clock()
            code = f.f_code
            site = tails.get(id(code) + f.f_lasti)
            if site is None or site[0] is not code:
                site = site_entry(tails, f)
            try:
                thread = _threads[_get_ident()]._name
            except Exception:  # a thread threading does not know (yet)
                thread = _thread_name()
            if type(thread) is not str:  # a str subclass: its hash is user code
                return emit(level, msg, args, fields, self, 2)
            tail = site[1].get(thread)
            if tail is None:
                tail = site_tail(site, thread, core._frag)
            context = self._bctx
            if fields:  # `merge_context`, inline for str and small int values
                context = {**context}
                for k, v in fields.items():
                    if type(k) is str:
                        t = type(v)
                        if t is str:
                            context[k] = v
                            continue
                        if t is int and _NEG_BIG < v < _BIG:
                            context[k] = str(v)
                            continue
                    context = merge_context(self._bctx, fields)
                    break
            us = int(ts * 1_000_000 + 0.5)  # `iso_utc`'s rounding
            start = last[1] if us // 1000 == (last := _start[0])[0] else line_start(ts)
            d = {"msg": msg, "context": context}
            try:
                body = _encoding.fast_dumps(d)  # looked up per call: set_backend() swaps it
            except Exception:
                body = _encoding.dumps(d)
            data = b"".join((start, _US[us % 1000], mid, body[1:-1], next(_ids.line_ids), tail))
            try:
                # `with`: a KeyboardInterrupt as acquire() returns must not leave it held
                with sink.lock:  # `FileSink.write`'s copy into the mapping
                    m = sink._map
                    if m is not None:
                        end = (size := sink.size) + len(data)
                        if end <= sink._room and ts < sink.next_at:  # by offset: `FileSink._base`
                            m[size - (base := sink._base) : end - base] = data
                            sink.size = end  # (`records` counts only for rotation callables,
                            return None  # which keep `_map` unset)
                sink.write(data, ts)
            except Exception as error:  # the spool handler's own containment
                spool.failed(error)
        except Exception as error:
            if getattr(error, RAISE_MARK, False):  # from a handler with catch=False
                raise
            core.call_failed(error, level, msg)
        return None

    method.__name__ = method.__qualname__ = level.lower()
    method.__doc__ = general.__doc__
    return method
