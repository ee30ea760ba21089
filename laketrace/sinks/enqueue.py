"""``enqueue=True``: hand records to a background writer thread through an in-process queue.

The caller only builds the record and puts it on a `queue.SimpleQueue` (no pickling);
the writer thread filters, encodes and writes records in batches (one system call per
batch where rotation allows). The queue is bounded by ``queue_size``:

* ``queue_full="block"`` (default): the caller waits until the writer frees space;
* ``queue_full="drop"``: the record is dropped and counted; when space returns, one
  WARNING record saying how many were dropped is written before the next record.

`flush()` / `close()` and interpreter exit drain the queue, and so does the exit of a
`multiprocessing` child (through multiprocessing's finalizers: such children end with
``os._exit``, which skips ``atexit``). After ``os.fork()`` the child writes synchronously
(records queued in the parent belong to the parent): a forked child often ends with
``os._exit`` and no hook at all, and a record written before the log call returns cannot be
left behind in a queue.

What ``kill -9`` can lose: at most ``queue_size`` records, those accepted by log calls that
returned but not yet written by the writer thread (a record counts against the bound until
its batch is written).
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..record.encoder import RawCall
from ..record.record import Record
from ..record.sanitize import safe_repr
from .handlers import Handler, report

_BATCH = 1024


class QueuedHandler(Handler):
    """Wraps a handler so that its work happens on a writer thread."""

    kind = "enqueue"

    def __init__(
        self,
        inner: Handler,
        make_notice: Callable[[int], Record],
    ) -> None:
        super().__init__(inner.id, inner.opts, inner.spec)
        self.inner = inner
        self.maxsize = inner.opts.queue_size
        self.drop = inner.opts.queue_full == "drop"
        self.make_notice = make_notice
        self._filter = None  # the inner handler filters on the writer thread
        self._reset()

    def _reset(self) -> None:
        self.q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._puts = itertools.count()
        self._done = 0
        self._dropped_total = 0
        self._dropped_unreported = 0
        self._space = threading.Condition(threading.Lock())
        self._waiting = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def describe(self) -> str:
        return f"enqueue({self.inner.describe()})"

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"laketrace-writer-{self.id}", daemon=True
                )
                self._thread.start()
                _drain_at_multiprocessing_exit(self)

    def handle(self, rec: Record) -> None:
        self.put_raw(rec)

    def put_raw(self, item: Any) -> None:
        """Queue a `Record` or a `RawCall` (the fast path), applying the queue-full policy."""
        if self._thread is None:
            self._ensure_thread()
        n = next(self._puts)
        if n - self._done - self._dropped_total >= self.maxsize:
            if self.drop:
                with self._space:
                    self._dropped_total += 1
                    self._dropped_unreported += 1
                return
            self._wait_for_space(n)
        if self._dropped_unreported:
            with self._space:
                dropped, self._dropped_unreported = self._dropped_unreported, 0
            if dropped:
                self.q.put(self.make_notice(dropped))
                with self._space:
                    self._dropped_total -= 1  # the notice takes a slot like any record
        self.q.put(item)

    def _wait_for_space(self, n: int) -> None:
        with self._space:
            self._waiting += 1
            try:
                while n - self._done - self._dropped_total >= self.maxsize:
                    if self._thread is None or not self._thread.is_alive():
                        self._ensure_thread()
                    self._space.wait(0.5)
            finally:
                self._waiting -= 1

    def _run(self) -> None:
        q = self.q
        while True:
            item = q.get()
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            records: list[Any] = []
            for it in batch:
                if isinstance(it, threading.Event):
                    if records:
                        self._write(records)
                        records = []
                    self.inner.flush()
                    it.set()
                else:
                    records.append(it)
            if records:
                self._write(records)

    def _write(self, items: list[Any]) -> None:
        try:
            # keep queue order: write runs of raw calls and of Records alternately
            start = 0
            while start < len(items):
                is_raw = type(items[start]) is RawCall
                end = start + 1
                while end < len(items) and (type(items[end]) is RawCall) == is_raw:
                    end += 1
                run = items[start:end]
                if is_raw:
                    lines = [(it.encode(), it.ts, None) for it in run]
                    self.inner.write_lines(lines)  # type: ignore[attr-defined]
                else:
                    self.inner.handle_many(run)
                start = end
        except Exception as exc:  # catch=False inner handlers: report, never kill the writer
            report(f"LakeTrace: handler {self.id} (enqueue) write error: {safe_repr(exc)}")
        with self._space:
            self._done += len(items)
            if self._waiting:
                self._space.notify_all()

    def flush(self) -> None:
        """Block until every record queued so far is written."""
        if self._thread is None or not self._thread.is_alive():
            self.inner.flush()
            return
        done = threading.Event()
        self.q.put(done)
        while not done.wait(1.0):
            if not self._thread.is_alive():  # pragma: no cover - interpreter teardown
                return

    def close(self) -> None:
        self.flush()
        self.inner.close()

    def after_fork_child(self) -> None:
        self._reset()
        self.inner.after_fork_child()
        # from now on this process writes synchronously: instance attributes shadow the
        # queueing methods, so the parent's hot path is untouched
        self.put_raw = self._put_now  # type: ignore[method-assign]
        self.handle = self._handle_now  # type: ignore[method-assign]

    def _put_now(self, item: Any) -> None:
        if type(item) is RawCall:
            self._write([item])
        else:
            self._handle_now(item)

    def _handle_now(self, rec: Record) -> None:
        self._write([rec])

    @property
    def dropped(self) -> int:
        """Records dropped so far because the queue was full."""
        return self._dropped_total


def _drain_at_multiprocessing_exit(handler: QueuedHandler) -> None:
    """In a `multiprocessing` child, flush ``handler`` when the child's ``run()`` ends."""
    mp = sys.modules.get("multiprocessing")
    if mp is None or mp.parent_process() is None:
        return  # the main process: atexit drains the queue
    from multiprocessing import util

    ref = weakref.ref(handler)

    def drain() -> None:
        h = ref()
        if h is not None:
            h.flush()

    # children end with os._exit after running these finalizers (atexit never runs there)
    util.Finalize(None, drain, exitpriority=100)
