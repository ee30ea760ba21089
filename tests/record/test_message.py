"""The message rule: templates name only fields and positions, with bounded widths."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laketrace.record.message import MAX_WIDTH, format_message, is_template

from ..hostile_values import BadFormat, BadRepr

DB_PASSWORD = "s3cret"  # what an attribute walk through a template would read


class Request:
    def __init__(self) -> None:
        self.user = "alice"


@pytest.mark.parametrize(
    ("msg", "args", "fields", "expected"),
    [
        ("loaded {} rows", (3,), {}, "loaded 3 rows"),
        ("{0}/{1}", (1, 2), {}, "1/2"),
        ("{n} rows of {table}", (), {"n": 2, "table": "sales"}, "2 rows of sales"),
        ("{n!r} {t:>6} {x:.2f} {p:08.3f} {d:%Y-%m}", (), {}, None),
        ("{{literal}} {}", (1,), {}, "{literal} 1"),
        ("{:,}", (1234567,), {}, "1,234,567"),
        (f"{{:>{MAX_WIDTH}}}", ("x",), {}, " " * (MAX_WIDTH - 1) + "x"),
    ],
)
def test_plain_templates_format(msg, args, fields, expected):
    """Positions, names, conversions and ordinary format specs are formatted."""
    if expected is None:
        import datetime as dt

        fields = {"n": 1, "t": "ab", "x": 3.14159, "p": 2.5, "d": dt.date(2026, 1, 2)}
        expected = "1     ab 3.14 0002.500 2026-01"
    assert format_message(msg, args, fields) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{req.__init__.__globals__[DB_PASSWORD]}",
        "{req.user}",
        "{req[0]}",
        "{0.__class__}",
        "{0[0]}",
        "{:999999999}",
        "{0:>1001}",
        "{:.999999999f}",
        "{:01001d}",
        "{:{w}}",
        "{req!x}",
    ],
)
def test_attribute_index_and_huge_widths_leave_the_message_as_written(template):
    """Attribute/index access, nested specs and widths over MAX_WIDTH are not formatted: the
    message stays as written and the args are appended."""
    req = Request()
    assert not is_template(template)
    assert format_message(template, (), {"req": req, "w": 5}) == template
    assert format_message(template, (7,), {"req": req}) == template + " 7"


def test_module_globals_cannot_be_read_through_a_template():
    """The issue's exploit: a field's __init__.__globals__ never reaches the message."""
    out = format_message("{req.__init__.__globals__[DB_PASSWORD]}", (), {"req": Request()})
    assert DB_PASSWORD not in out


def test_raising_args_keep_the_message_and_name_the_value():
    """An arg whose __format__/__str__/__repr__ raises gives the message with a placeholder."""
    assert format_message("x {}", (BadFormat(),), {}) == "x {} BadFormat()"
    assert format_message("x", (BadRepr(),), {}) == "x <unprintable BadRepr: Boom: boom>"
    assert format_message("{v!r}", (), {"v": BadRepr()}) == "{v!r}"
    assert format_message(BadRepr(), (), {}) == "<unprintable BadRepr: Boom: boom>"


def test_invalid_templates_keep_the_text():
    """Unbalanced braces, mixed numbering and missing names keep the text, args appended."""
    assert format_message("{", (1,), {}) == "{ 1"
    assert format_message("{0}{}", (1, 2), {}) == "{0}{} 1 2"
    assert format_message("{missing}", (), {"other": 1}) == "{missing}"
    assert format_message('{"json": true}', (), {"k": 1}) == '{"json": true}'


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("{}[]!:.0123456789abrsx>_ %,")), max_size=30),
    st.lists(st.integers() | st.text(max_size=5) | st.floats(), max_size=3),
)
def test_property_message_rule_never_raises_and_stays_bounded(template, args):
    """Property: for any template and args the rule returns text of bounded length."""
    out = format_message(template, tuple(args), {"a": 1, "b": "x"})
    assert type(out) is str
    budget = (len(template) + 1) * (MAX_WIDTH + 64) + sum(len(str(a)) + 1 for a in args)
    assert len(out) <= budget
