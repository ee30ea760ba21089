"""LakeTrace 1.x configuration keys, translated once into today's options.

A 1.x key is accepted with one `DeprecationWarning` naming today's spelling; a 1.x key
together with the key that replaces it is a `ConfigError` (which one would win?). Keys that
are neither today's nor 1.x's stay a `ConfigError` (`laketrace.sinks.options.check_keys`).

=========================  ==============================================================
1.x key                    today
=========================  ==============================================================
``rotation_mb: 10``        ``rotation: "10 MiB"`` (1.x counted 1024 * 1024 bytes per MB)
``retention_files: 5``     ``retention: 5``
``mask_pii: True``         ``redact: ["pii"]`` (False: nothing)
``secure_file_permissions``  ``file_mode``: True -> ``0o600``, False -> ``0o644``
``add_runtime_context``    always on: every record has ``runtime``, ``host``, ``pid``,
                           ``run_id``, ``app_id`` columns; the key is dropped
``sanitize_messages``      True: newlines, carriage returns and NULs in every message are
                           escaped (``\\n``, ``\\r``, ``\\x00``) as 1.x did; False: messages
                           are kept as written (terminal output escapes control characters
                           anyway)
=========================  ==============================================================

A config with a 1.x key is a 1.x config and keeps 1.x's defaults for the keys it leaves
out: ``log_dir`` ``/tmp/laketrace_logs`` (unless ``LAKETRACE_LOG_DIR`` is set), ``json``
True (JSON lines on stdout) and ``sanitize_messages`` True. Today's configs keep today's.

The text helpers 1.x exported (`sanitize_message`, `escape_newlines`,
`escape_format_strings`) live here too: ``sanitize_messages`` uses `escape_newlines` (it
runs on the formatted message, so braces stay as the call formatted them).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import ConfigError

#: 1.x key -> the key that replaces it (None: no replacement key)
LEGACY_KEYS: dict[str, str | None] = {
    "rotation_mb": "rotation",
    "retention_files": "retention",
    "mask_pii": "redact",
    "secure_file_permissions": "file_mode",
    "add_runtime_context": None,
    "sanitize_messages": None,
}


#: LakeTrace 1.x's spool directory: the default ``log_dir`` of a config that uses a 1.x key
LEGACY_LOG_DIR = "/tmp/laketrace_logs"


class Translated(NamedTuple):
    """A config with 1.x keys replaced, and the 1.x behaviour that has no key today."""

    config: dict[str, Any]
    sanitize: bool


def escape_newlines(text: Any) -> str:
    """``text`` with newlines, carriage returns and NULs escaped (LakeTrace 1.x).

    >>> escape_newlines("line1\\nline2")
    'line1\\\\nline2'
    """
    if not isinstance(text, str):
        text = str(text)
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\x00", "\\x00")


def sanitize_message(message: Any) -> str:
    """``message`` made safe to log: newlines, carriage returns and NULs escaped (a forged
    second log line becomes visible escapes) and format braces doubled (`escape_format_strings`).

    >>> sanitize_message("user {id}\\nINFO forged")
    'user {{id}}\\\\nINFO forged'
    """
    return escape_format_strings(escape_newlines(message))


def escape_format_strings(text: Any) -> str:
    """``text`` with ``{`` and ``}`` doubled, so ``str.format`` prints them as they are.

    >>> escape_format_strings("{user}")
    '{{user}}'
    """
    if not isinstance(text, str):
        text = str(text)
    return text.replace("{", "{{").replace("}", "}}")


def _bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config {key!r} (LakeTrace 1.x): expected True or False, got {value!r}.")
    return value


def _rotation_mb(value: object) -> tuple[int, str]:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value * 1024 * 1024 >= 1
        or value == float("inf")
    ):
        raise ConfigError(
            f"config 'rotation_mb' (LakeTrace 1.x): expected a positive number of megabytes, "
            f"got {value!r}. Today's spelling: 'rotation': '10 MiB'."
        )
    size = int(value * 1024 * 1024)
    text = f"{value:g} MiB" if float(value) * 1024 * 1024 == size else f"{size} B"
    return size, f"{{'rotation': {text!r}}}"


def _retention_files(value: object) -> tuple[int, str]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"config 'retention_files' (LakeTrace 1.x): expected a count of files >= 1, got "
            f"{value!r}. Today's spelling: 'retention': 5."
        )
    return value, f"{{'retention': {value}}}"


_MASK_PII = "write {'redact': ['pii']} instead (add 'builtin' to mask secrets too)."
_RUNTIME_CONTEXT = (
    "remove it: every record carries the runtime, host, pid, run_id and app_id columns."
)
_SANITIZE = (
    "remove it: terminal output escapes control characters and the spool stores messages "
    "JSON-encoded. Kept for 1.x configs: True escapes newlines in every message."
)


def _message(key: str, advice: str) -> str:
    return f"get_logger config: {key!r} is a LakeTrace 1.x key; {advice}"


def _stacklevel() -> int:
    """`warnings.warn`'s stack level, seen from `translate`, of the first caller outside
    LakeTrace (the user's ``get_logger`` line), however deep inside LakeTrace it was called."""
    frame = sys._getframe(1)  # translate: stack level 1
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "laketrace":
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _legacy_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` without its 1.x keys, with 1.x's defaults where it leaves today's keys out:
    a config that uses a 1.x key is a 1.x config, so it keeps 1.x's ``log_dir``
    (`LEGACY_LOG_DIR`, unless ``LAKETRACE_LOG_DIR`` is set) and JSON lines on stdout."""
    out = {k: v for k, v in raw.items() if k not in LEGACY_KEYS}
    if "log_dir" not in out and not os.environ.get("LAKETRACE_LOG_DIR"):
        out["log_dir"] = LEGACY_LOG_DIR
    if "json" not in out and "serialize" not in out:
        out["json"] = True
    return out


def translate(raw: Mapping[str, Any], *, warn: bool = True) -> Translated:
    """``raw`` with every 1.x key replaced by today's option (one DeprecationWarning each)
    and 1.x's defaults (``log_dir``, ``json``, ``sanitize_messages``) for a 1.x config.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     translate({"log_dir": "/tmp/lt", "rotation_mb": 10, "retention_files": 5}).config
    {'log_dir': '/tmp/lt', 'json': True, 'rotation': 10485760, 'retention': 5}
    """
    present = [k for k in LEGACY_KEYS if k in raw]
    if not present:
        return Translated(dict(raw), False)
    out = _legacy_defaults(raw)
    sanitize = True  # 1.x's default, unless the config says sanitize_messages=False
    notes: list[str] = []
    for key in present:
        new, value = LEGACY_KEYS[key], raw[key]
        if new is not None and out.get(new) is not None:
            raise ConfigError(
                f"config: {key!r} (LakeTrace 1.x) and {new!r} are both given and mean the same "
                f"thing; keep only {new!r} (got {key}={value!r}, {new}={out[new]!r})."
            )
        if key == "rotation_mb":
            out["rotation"], spelling = _rotation_mb(value)
            notes.append(_message(key, f"write {spelling} instead."))
        elif key == "retention_files":
            out["retention"], spelling = _retention_files(value)
            notes.append(_message(key, f"write {spelling} instead."))
        elif key == "mask_pii":
            if _bool(key, value):
                out["redact"] = ["pii"]
            notes.append(_message(key, _MASK_PII))
        elif key == "secure_file_permissions":
            out["file_mode"] = 0o600 if _bool(key, value) else 0o644
            notes.append(_message(key, f"write {{'file_mode': {oct(out['file_mode'])}}} instead."))
        elif key == "add_runtime_context":
            _bool(key, value)
            notes.append(_message(key, _RUNTIME_CONTEXT))
        else:
            sanitize = _bool(key, value)
            notes.append(_message(key, _SANITIZE))
    if warn:
        level = _stacklevel()
        for note in notes:
            warnings.warn(note, DeprecationWarning, stacklevel=level)
    return Translated(out, sanitize)


__all__ = [
    "LEGACY_KEYS",
    "LEGACY_LOG_DIR",
    "Translated",
    "escape_format_strings",
    "escape_newlines",
    "sanitize_message",
    "translate",
]
