"""The one lake-line encoder (`laketrace.record.encoder`): its fields are the schema's spool
columns, and every way a call reaches the spool (the fast path `Core.emit` writes inline,
the general path through `lake_line`, ``enqueue=True`` through `RawCall`) writes the same
line, field by field and in the same order."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from laketrace.record.encoder import CALL_FIELDS, STATIC_FIELDS
from laketrace.schema import SPOOL_COLUMNS
from laketrace.testing import capture_records

from ..conftest import spool_lines

CALLS: list[tuple[str, tuple, dict[str, Any]]] = [
    ("plain", (), {}),
    ("loaded {} rows", (3,), {"table": "sales"}),
    ("fields only", (), {"n": 5, "ok": True, "none": None, "items": [1, "a"], "f": 0.5}),
    ("unicode é ✓ \u2028", (), {"ключ": "значение"}),
]


def test_encoder_fields_are_the_schemas_spool_columns():
    """The encoder's call and static fields together are exactly schema.SPOOL_COLUMNS."""
    assert sorted(CALL_FIELDS + STATIC_FIELDS) == sorted(SPOOL_COLUMNS)
    assert not set(CALL_FIELDS) & set(STATIC_FIELDS)


def _lines(make_logger: Any, log_dir: str, *, enqueue: bool, general: bool) -> list[dict]:
    log = make_logger("encoder.parity", log_dir=log_dir, enqueue=enqueue).bind(request="r1")
    for msg, args, fields in CALLS:  # one call site for every call
        # another handler listening turns the fast path off
        with capture_records() if general else contextlib.nullcontext():
            log.info(msg, *args, **fields)
    log.close()
    return [json.loads(raw, object_pairs_hook=list) for raw in spool_lines(log_dir)]


@pytest.mark.parametrize(
    ("enqueue", "general"), [(False, True), (True, False), (True, True)], ids=str
)
def test_every_path_to_the_spool_writes_the_fast_paths_line(
    make_logger, log_dir, tmp_path, enqueue, general
):
    """A call writes the same lake line (all fields, same order; ids and times aside)
    through the fast path, the general path and the enqueue writer."""
    got = _lines(make_logger, log_dir, enqueue=enqueue, general=general)
    fast = _lines(make_logger, str(tmp_path / "fast"), enqueue=False, general=False)
    assert len(got) == len(fast) == len(CALLS)
    vary = {"record_id", "ts"}
    for a, b in zip(got, fast, strict=True):
        assert [k for k, _ in a] == [k for k, _ in b]
        assert [kv for kv in a if kv[0] not in vary] == [kv for kv in b if kv[0] not in vary]
    assert [k for k, _ in fast[0]] and {k for k, _ in fast[0]} == set(SPOOL_COLUMNS)
