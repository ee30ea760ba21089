"""Text for terminals: log data can neither move the cursor nor forge a line.

Every value the human formats insert (message, fields, logger name, call site, exception
text) goes through `escape`: C0 controls except TAB (so ESC, CR, LF, BEL, backspace...),
DEL, C1 controls (U+0080..U+009F, e.g. the one-byte CSI) and the Unicode line separators
and bidirectional overrides (U+2028, U+2029, U+202A..U+202E, U+2066..U+2069) are shown as
``\\n``, ``\\r``, ``\\xNN`` or ``\\uNNNN``; TAB is kept. A traceback keeps its own
line breaks, but each of its lines is escaped and indented (`indent_block`), so in terminal
output every line that starts at column 0 starts a record.

>>> escape("ok\\x1b[2J\\rforged\\nline")
'ok\\\\x1b[2J\\\\rforged\\\\nline'
>>> indent_block("Traceback (most recent call last):\\nValueError: x\\n2026-01-01 forged")
'  Traceback (most recent call last):\\n  ValueError: x\\n  2026-01-01 forged'
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
#: the prefix of every traceback line in terminal output
INDENT = "  "


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with control characters shown as escapes (one terminal line, no cursor moves)."""
    return _CONTROL.sub(_escape_char, text)


def indent_block(text: str) -> str:
    """A multi-line block (a traceback) with each line escaped and indented by `INDENT`."""
    return "\n".join(INDENT + escape(line) for line in text.split("\n"))
