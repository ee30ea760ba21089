"""The message rule: how ``log.info(msg, *args, **fields)`` becomes the ``msg`` column.

One function for the driver logger, the task logger and the executor proxy, so a call
reads the same wherever it runs (``tests/test_executor_parity.py`` checks it).

>>> format_message("loaded {} rows", (3,), {})
'loaded 3 rows'
>>> format_message("rows", (5,), {})
'rows 5'
>>> format_message("{n} rows of {table}", (), {"n": 2, "table": "sales"})
'2 rows of sales'
"""

from __future__ import annotations

from typing import Any


def safe_str(obj: Any) -> str:
    """``str(obj)``, falling back to ``repr`` and then a placeholder; never raises."""
    try:
        return str(obj)
    except Exception:
        try:
            return repr(obj)
        except Exception:
            return f"<unprintable {type(obj).__name__}>"


def _append(msg: str, args: tuple) -> str:
    return msg + " " + " ".join(safe_str(a) for a in args) if args else msg


def format_message(msg: Any, args: tuple, fields: dict[str, Any]) -> str:
    """``msg`` as text, ``str.format``-ed with ``args`` and ``fields`` when it is a template.

    Without ``{`` in the message the args are appended, separated by spaces, so nothing
    the caller passed is lost; a message that is not a valid template (e.g. JSON text)
    keeps its text and gets the args appended.
    """
    text = msg if type(msg) is str else safe_str(msg)
    if "{" not in text:
        return _append(text, args)
    if not args and not fields:
        return text
    try:
        return text.format(*args, **fields)
    except Exception:
        return _append(text, args)
