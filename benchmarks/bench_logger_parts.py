"""What each part of the spool fast path costs: the generated level method
(`laketrace/log/fastcall.py`) timed whole and with one part cut out at a time.

Each variant is a copy of ``spool_method``'s source with one part replaced by a constant
(the same bytes the part would produce, so every line keeps its length), compiled and
given to a logger of its own; rounds interleave the variants; CPU time of this process
(``time.process_time``, user + system), 200,000 calls of the benchmark's call
(``bind(user="alice").info("processed item", item=i)``) per round, median round. A
variant whose source text is no longer found is reported as skipped. The differences are
rough (about +-0.1 us on this shared machine): they show where the time goes, not a
figure to hold the code to.

    .venv/bin/python benchmarks/bench_logger_parts.py [--n 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import laketrace
from laketrace.log import fastcall
from laketrace.log import logger as _logger_mod
from laketrace.log import registry as _registry
from laketrace.record import encoding as _encoding

_CHECKS = """            if (
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
"""
_SITE = """            code = f.f_code
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
"""

#: variant: [(text in the source, its replacement)]; ``_PART_*`` names are constants
#: injected into the compiled module (the bytes the part would have produced)
VARIANTS: dict[str, list[tuple[str, str]]] = {
    "whole method": [],
    "without the routing checks": [(_CHECKS, "")],
    "without call site + thread name": [
        ("            f = _getframe(1)\n", ""),
        (_SITE, "            tail = _PART_TAIL\n"),
    ],
    "without the field merge": [
        ("            if fields:  # `merge_context`", "            if 0:  # `merge_context`"),
        ("context = self._bctx\n", "context = _PART_CONTEXT\n"),
    ],
    "without the encode": [
        ("body = _encoding.fast_dumps(d)  # looked", "body = _PART_BODY  # looked"),
    ],
    "without the lock": [("with sink.lock:", "if True:")],
}


def _method_factory(cuts: list[tuple[str, str]], consts: dict[str, Any]) -> Any:
    src = inspect.getsource(fastcall)
    for old, new in cuts:
        if old not in src:
            return None
        src = src.replace(old, new)
    namespace = dict(vars(fastcall))
    namespace.update(consts)
    exec(compile(src, fastcall.__file__, "exec"), namespace)
    return namespace["spool_method"]


def _call_of(log_dir: str, factory: Any) -> tuple[Any, Any]:
    saved = _logger_mod.spool_method
    _logger_mod.spool_method = factory
    try:
        log = laketrace.get_logger(
            f"parts{time.perf_counter_ns()}", {"log_dir": log_dir, "stdout": False}
        )
        return log, log.bind(user="alice").info
    finally:
        _logger_mod.spool_method = saved


def _round(call: Any, n: int) -> float:
    t0 = time.process_time()
    for i in range(n):
        call("processed item", item=i)
    return time.process_time() - t0


def _constants(tmp: str) -> dict[str, Any]:
    """The bytes each cut part produces for the benchmark's call (taken from a real call)."""
    log, call = _call_of(os.path.join(tmp, "probe"), _logger_mod.spool_method)
    call("processed item", item=1)
    tails = [t for entry in log._core.tails.values() for t in entry[1].values()]
    log.close()
    _registry.forget(log.name)
    return {
        "_PART_TAIL": tails[0] if tails else b"",
        "_PART_CONTEXT": {"user": "alice", "item": "1"},
        "_PART_BODY": _encoding.fast_dumps(
            {"msg": "processed item", "context": {"user": "alice", "item": "1"}}
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        consts = _constants(tmp)
        calls: dict[str, Any] = {}
        logs = []
        for name, cuts in VARIANTS.items():
            factory = _method_factory(cuts, consts)
            if factory is None:
                print(f"{name}: the method's source changed, skipped")
                continue
            log, calls[name] = _call_of(os.path.join(tmp, str(len(calls))), factory)
            logs.append(log)
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, call in calls.items():
                times[name].append(_round(call, args.n) / args.n * 1e6)
        for log in logs:
            log.close()
            _registry.forget(log.name)
    whole = statistics.median(times["whole method"])
    print(f"{args.n:,} calls x {args.rounds} interleaved rounds, CPU time, median round")
    print(f"{'variant':36} {'us/call':>8} {'saves':>7}")
    for name, ts in times.items():
        med = statistics.median(ts)
        saves = "" if name == "whole method" else f"{whole - med:+.2f}"
        print(f"{name:36} {med:8.2f} {saves:>7}")


if __name__ == "__main__":
    main()
