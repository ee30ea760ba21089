"""JSON encoding: any field value yields valid JSON, with orjson and with stdlib json."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laketrace.record import encoding as _encoding


@pytest.fixture(params=["orjson", "json"])
def backend(request):
    """Run the test once per available JSON backend."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    previous = _encoding.BACKEND
    _encoding.set_backend(request.param)
    yield request.param
    _encoding.set_backend(previous)


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")

    __str__ = __repr__


class Node:
    def __init__(self):
        self.me = self


ODD_VALUES = [
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    dt.date(2026, 1, 2),
    dt.timedelta(seconds=90),
    decimal.Decimal("1.10"),
    b"bytes",
    b"\xff\xfe",
    {3, 1, 2},
    frozenset({"a"}),
    uuid.UUID(int=1),
    float("nan"),
    float("inf"),
    BadRepr(),
    {1: "int key", (1, 2): "tuple key"},
    "lone surrogate \udc80",
    Node(),
    ValueError("an exception"),
    [1, [2, [3]]],
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_odd_values_encode_to_valid_json(backend, value):
    """Every odd value encodes to valid JSON without raising."""
    out = _encoding.dumps({"v": value})
    json.loads(out)


def test_cycle_is_cut(backend):
    """A self-referencing dict encodes (depth-limited) instead of recursing forever."""
    d: dict = {}
    d["self"] = d
    json.loads(_encoding.dumps(d))


def test_known_conversions(backend):
    """Decimals become strings, bytes decode as UTF-8 (or base64), sets sort."""
    obj = json.loads(
        _encoding.dumps({"d": decimal.Decimal("1.10"), "b": b"ok", "s": {2, 1}, "x": b"\xff"})
    )
    assert obj == {"d": "1.10", "b": "ok", "s": [1, 2], "x": "base64:/w=="}


def test_context_value_strings_pass_through():
    """Strings stay as they are in the context map; other values are JSON-encoded."""
    assert _encoding.context_value("plain") == "plain"
    assert _encoding.context_value(3) == "3"
    assert _encoding.context_value({"a": [1]}) == '{"a":[1]}'
    assert _encoding.context_value(None) == "null"
    assert _encoding.context_value(True) == "true"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.decimals()
    | st.datetimes()
    | st.sets(st.integers(), max_size=3),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_property_any_value_encodes(value):
    """Property: dumps returns valid UTF-8 JSON for arbitrary nested values."""
    for name in ("json", "orjson") if _encoding._orjson is not None else ("json",):
        previous = _encoding.BACKEND
        _encoding.set_backend(name)
        try:
            out = _encoding.dumps({"v": value})
        finally:
            _encoding.set_backend(previous)
        parsed = json.loads(out.decode("utf-8"))
        assert "v" in parsed


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_property_strings_round_trip(text):
    """Property: any encodable string round-trips exactly; lone surrogates are replaced."""
    out = json.loads(_encoding.dumps({"s": text}))["s"]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert "\ufffd" in out or "?" in out
    else:
        assert out == text


def test_nan_is_valid_json_in_both_backends(backend):
    """NaN and infinity never produce the invalid JSON tokens NaN/Infinity."""
    out = _encoding.dumps({"a": float("nan"), "b": [math.inf]})
    assert b"NaN" not in out.replace(b'"nan"', b"") and b"Infinity" not in out.replace(
        b'"inf"', b""
    )
    json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid constant {c}"))
