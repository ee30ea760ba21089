"""Context that log calls pick up without passing it: `contextualize` fields (contextvars)
and the Spark job running now, as seen by `spark_listener`."""

from __future__ import annotations

import contextlib
import contextvars
import types
from collections.abc import Iterator, Mapping
from typing import Any

from ..record.record import JobContext

#: contextvars-scoped fields of `contextualize` (shared by all loggers, like loguru)
fields_var: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "laketrace_context", default=types.MappingProxyType({})
)
# The Spark job running now, as seen by spark_listener: one-item lists so the listener
# thread can swap them without locks; the hot path only reads them.
_job: list[JobContext | None] = [None]
_job_fields: list[dict[str, str] | None] = [None]


def set_job_context(value: JobContext | None, fields: dict[str, str] | None = None) -> None:
    """Set the Spark job context of driver records (used by `spark_listener`).

    ``fields`` (job description, SQL execution id) are added to the records' context.

    >>> set_job_context(JobContext(job_id=3, job_group="etl"))
    >>> current_job().job_id
    3
    >>> set_job_context(None)
    """
    _job_fields[0] = fields or None
    _job[0] = value


def current_job() -> JobContext | None:
    """The Spark job context driver records get now (None outside jobs)."""
    return _job[0]


@contextlib.contextmanager
def contextualize(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the ``with`` block (contextvars).

    Scoped to the current thread / asyncio task. A thread started inside the block
    sees the fields only if it runs in a copy of the context:
    ``threading.Thread(target=contextvars.copy_context().run, args=(fn,))``.
    """
    token = fields_var.set({**fields_var.get(), **fields})
    try:
        yield
    finally:
        fields_var.reset(token)
