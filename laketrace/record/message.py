"""The message rule: how ``log.info(msg, *args, **fields)`` becomes the ``msg`` column.

One function for the driver logger, the task logger and the executor proxy, so a call
reads the same wherever it runs (``tests/test_executor_parity.py`` checks it).

A message with args or fields is a ``str.format`` template only if it names nothing but
positions and fields: ``{}``, ``{0}``, ``{rows}``, with an optional ``!r``/``!s``/``!a``
conversion and a format spec whose numbers (width, precision) are at most `MAX_WIDTH`.
Attribute and index access (``{req.__init__.__globals__[DB_PASSWORD]}``), nested fields
in a spec (``{:{width}}``) and huge widths (``{:999999999}``) make it plain text: the
message is kept as written and the args are appended, as for any message that is not a
template.

>>> format_message("loaded {} rows", (3,), {})
'loaded 3 rows'
>>> format_message("rows", (5,), {})
'rows 5'
>>> format_message("{n} rows of {table}", (), {"n": 2, "table": "sales"})
'2 rows of sales'
>>> format_message("{n.__class__} rows", (), {"n": 2})
'{n.__class__} rows'
"""

from __future__ import annotations

import re
import string
from typing import Any

from .sanitize import safe_str

#: the largest width or precision a template may ask for (a bigger number makes it plain text)
#: the default of a level method's positional-only message: the call gave none, so a
#: ``msg=`` keyword (accepted before the message became positional-only) is the message
MISSING: Any = object()
MAX_WIDTH = 1000
_NUMBER = re.compile(r"\d+")
_CONVERSIONS = (None, "r", "s", "a")
_parse = string.Formatter().parse
_checked: dict[str, bool] = {}


def spec_problem(spec: str) -> str | None:
    """Why a format spec is refused (nested fields, a number over `MAX_WIDTH`), or None."""
    if not spec:
        return None
    if "{" in spec or "}" in spec:
        return "nested replacement fields in a format spec"
    for num in _NUMBER.findall(spec):
        if len(num) > 4 or int(num) > MAX_WIDTH:
            return f"width or precision {num} is over {MAX_WIDTH}"
    return None


def _is_template(text: str) -> bool:
    try:
        parts = list(_parse(text))
    except ValueError:
        return False
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name and not name.isidentifier() and not (name.isascii() and name.isdigit()):
            return False
        if conversion not in _CONVERSIONS or spec_problem(spec or "") is not None:
            return False
    return True


def is_template(text: str) -> bool:
    """True when ``text`` may be formatted: it names only positions and fields (cached)."""
    ok = _checked.get(text)
    if ok is None:
        ok = _is_template(text)
        if len(text) <= 1024:  # messages are mostly constants; bound what the cache holds
            if len(_checked) >= 2048:
                _checked.clear()
            _checked[text] = ok
    return ok


def append_args(msg: str, args: tuple) -> str:
    """``msg`` with the text of each arg appended, separated by spaces; never raises."""
    return msg + " " + " ".join(safe_str(a) for a in args) if args else msg


def format_message(msg: Any, args: tuple, fields: dict[str, Any]) -> str:
    """``msg`` as text, ``str.format``-ed with ``args`` and ``fields`` when it is a template.

    Without ``{`` in the message the args are appended, separated by spaces, so nothing
    the caller passed is lost; a message that is not a valid or allowed template (e.g.
    JSON text, attribute access) keeps its text and gets the args appended. Never raises:
    an arg that cannot be turned into text appears as ``<unprintable T: reason>``.
    """
    text = msg if type(msg) is str else safe_str(msg)
    if "{" not in text:
        return append_args(text, args)
    if not args and not fields:
        return text
    if is_template(text):
        try:
            return text.format(*args, **fields)
        except Exception:
            pass
    return append_args(text, args)
