"""The sanitiser: any value becomes JSON-safe primitives, with per-value fallbacks.

`render` never hands a value to a JSON encoder, so hostile values are safe in-process here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laketrace.record import encoding
from laketrace.record.encoder import context_map
from laketrace.record.sanitize import (
    MAX_DEPTH,
    UNRENDERABLE,
    Unrenderable,
    render,
    safe_repr,
    safe_str,
)

from ..hostile_values import HOSTILE, BadRepr, EvilStr, SlotsDC

_PRIMITIVES = (str, int, float, bool, type(None))


def assert_json_safe(tree: Any) -> None:
    """Only exact primitives, lists and str-keyed dicts; finite floats; 64-bit ints."""
    t = type(tree)
    if t is dict:
        for k, v in tree.items():
            assert type(k) is str
            assert_json_safe(v)
    elif t is list:
        for v in tree:
            assert_json_safe(v)
    else:
        assert t in _PRIMITIVES, t
        if t is float:
            assert math.isfinite(tree)
        if t is int:
            assert -(2**63) <= tree < 2**64
        if t is str:
            tree.encode("utf-8")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_hostile_value_renders_to_json_safe_primitives(case):
    """Each hostile value renders without raising to a tree any JSON encoder accepts."""
    tree, _ = render(HOSTILE[case]())
    assert_json_safe(tree)
    json.dumps(tree, allow_nan=False)


@pytest.mark.parametrize(
    ("case", "failed"),
    [
        ("slots_dataclass_unset", True),
        ("datetime_raising_utcoffset", True),
        ("enum_raising_value", True),
        ("mapping_raising_items", True),
        ("raising_repr_and_str", True),
        ("cycle", True),
        ("deep_nesting", True),
        ("set_raising_lt", False),
        ("nan", False),
        ("int_over_4300_digits", True),
        ("int_over_64_bits", False),
        ("control_characters", False),
    ],
)
def test_failed_flag_marks_values_that_needed_a_fallback(case, failed):
    """`render` reports a value as failed exactly when converting it raised or was cut."""
    assert render(HOSTILE[case]())[1] is failed


def test_placeholder_names_type_and_reason():
    """A value whose repr also raises becomes <unprintable T: reason>."""
    assert render(BadRepr()) == ("<unprintable BadRepr: Boom: boom>", True)
    assert safe_repr(BadRepr()) == "<unprintable BadRepr: Boom: boom>"
    assert safe_str(BadRepr()) == "<unprintable BadRepr: Boom: boom>"


def test_slots_dataclass_keeps_the_fields_that_are_set():
    """A dataclass renders field by field; an unset slot gets its own placeholder."""
    obj = object.__new__(SlotsDC)
    obj.a = 1
    tree, failed = render(obj)
    assert failed and tree["a"] == 1
    assert tree["b"].startswith("<unprintable SlotsDC.b: AttributeError")


class Color(enum.Enum):
    RED = "r"


@dataclasses.dataclass
class Point:
    x: int
    when: dt.date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "2026-01-02T03:04:05+00:00"),
        (dt.timedelta(seconds=90), 90.0),
        (decimal.Decimal("1.10"), "1.10"),
        (b"ok", "ok"),
        (b"\xff", "base64:/w=="),
        ({3, 1, 2}, [1, 2, 3]),
        ({1, "a", None}, [None, 1, "a"]),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (PurePosixPath("/a/b"), "/a/b"),
        (Color.RED, "r"),
        (Point(1, dt.date(2026, 1, 2)), {"x": 1, "when": "2026-01-02"}),
        (ValueError("bad"), "ValueError: bad"),
        ((1, [2, (3,)]), [1, [2, [3]]]),
        ({1: "a", (1, 2): "b"}, {"1": "a", "(1, 2)": "b"}),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (2**64, "18446744073709551616"),
        (10**5000, "<int of 16610 bits>"),
        ("lone \udc80", "lone \ufffd"),
        (Unrenderable("<gone>"), "<gone>"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_known_conversions(value, expected):
    """Known types convert by their meaning (isoformat, value, fields, sorted members...)."""
    assert render(value)[0] == expected


def test_cycles_and_depth_are_cut_with_a_marker():
    """A self-referencing value and nesting beyond MAX_DEPTH end in a marker text."""
    d: dict = {}
    d["me"] = d
    assert render(d) == ({"me": "<cycle>"}, True)
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    tree, failed = render(deep)
    assert failed and "<cut:" in json.dumps(tree)


def test_context_map_lists_unrenderable_fields_once():
    """The context map names the fields that needed a fallback, as a JSON array."""
    ctx = context_map({"ok": 1, "bad": BadRepr(), "when": HOSTILE["datetime_raising_utcoffset"]()})
    assert json.loads(ctx[UNRENDERABLE]) == ["bad", "when"]
    assert ctx["ok"] == "1"
    assert json.loads(ctx["bad"]) == "<unprintable BadRepr: Boom: boom>"


def test_str_subclasses_are_plain_text_in_the_context_map():
    """A str subclass (a level, a str enum) is text in the context map, without running its
    own __str__."""

    assert context_map({"s": EvilStr("evil"), "u": Unrenderable("<x>")}) == {
        "s": "evil",
        "u": "<x>",
        UNRENDERABLE: '["u"]',
    }


class _Weird:
    def __init__(self, mode: int) -> None:
        self.mode = mode

    def __repr__(self) -> str:
        if self.mode == 0:
            raise RuntimeError("repr")
        if self.mode == 1:
            return 42  # type: ignore[return-value]
        return "Weird\udcff"


plain_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats()
    | st.text()
    | st.binary(max_size=8)
    | st.decimals()
    | st.datetimes()
)
# Hostile objects are drawn as ("@make", name) recipes and built inside the test, because
# hypothesis itself inspects drawn values (isinstance, repr) and would trip over them.
_MAKERS: dict[str, Any] = {
    **HOSTILE,
    "weird_raising": lambda: _Weird(0),
    "weird_not_str": lambda: _Weird(1),
    "weird_surrogate": lambda: _Weird(2),
    "bad_repr": BadRepr,
    "enum": lambda: Color.RED,
}
recipes = st.sampled_from(sorted(_MAKERS)).map(lambda name: ("@make", name))


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.tuples(children, children)
            | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
            | st.dictionaries(st.text(max_size=4) | st.integers(), children, max_size=4)
        ),
        max_leaves=15,
    )


def build(recipe: Any) -> Any:
    """The value a drawn recipe describes (hostile objects made fresh)."""
    if type(recipe) is tuple and len(recipe) == 2 and recipe[0] == "@make":
        return _MAKERS[recipe[1]]()
    if type(recipe) is tuple:
        return tuple(build(v) for v in recipe)
    if type(recipe) is list:
        return [build(v) for v in recipe]
    if type(recipe) is dict:
        return {k: build(v) for k, v in recipe.items()}
    return recipe


values = _nested(plain_leaves | recipes)
plain_values = _nested(plain_leaves)


@settings(max_examples=200, deadline=None)
@given(values)
def test_property_render_is_json_safe_and_total(value):
    """Property: render never raises and its tree is JSON-safe for any nesting of values."""
    tree, _ = render(build(value))
    assert_json_safe(tree)
    json.dumps(tree, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(plain_values)
def test_property_both_backends_encode_the_sanitised_tree_alike(value):
    """Property: once sanitised, orjson and stdlib json produce the same value."""
    pytest.importorskip("orjson")
    previous = encoding.BACKEND
    out = {}
    try:
        for name in ("orjson", "json"):
            encoding.set_backend(name)
            out[name] = json.loads(encoding.dumps({"v": value}))
    finally:
        encoding.set_backend(previous)
    assert out["orjson"] == out["json"]
