"""Secret masking applied to `msg` and `context` values before any sink sees them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ..errors import ConfigError

MASK = "***"

# Each pattern has exactly one capturing group: the prefix to keep before the mask.
BUILTIN_PATTERNS: dict[str, str] = {
    "bearer": r"(\b[Bb]earer\s+)[A-Za-z0-9\-._~+/]+=*",
    "databricks_token": r"()\bdapi[0-9a-f]{32}(?:-\d+)?\b",
    "azure_sas_sig": r"([?&]sig=)[^&\s\"']+",
    "key_value": (
        r"(\b(?:password|passwd|pwd|secret|client_secret|api_key|apikey|token"
        r"|access_key|account_key)\b[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"
    ),
    "connection_string_key": r"(\b(?:AccountKey|SharedAccessKey)=)[^;\s\"']+",
}


def compile_redactor(value: object, *, key: str = "redact") -> Callable[[str], str] | None:
    """Parse the ``redact`` config once into a ``str -> str`` function (or None when off).

    Accepted: ``False``/``None`` (off), ``True`` (built-in patterns), or a list of
    regular expressions and/or built-in pattern names; ``"builtin"`` in the list adds
    all built-ins. A user regex masks its whole match, or only group 1 if it has groups.
    """
    if value is None or value is False:
        return None
    if value is True:
        items: Iterable[object] = ["builtin"]
    elif isinstance(value, str):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ConfigError(
            f"config {key!r}: expected True, False, or a list of regular expressions / "
            f"built-in names {sorted(BUILTIN_PATTERNS)}, got {value!r}."
        )
    builtin: list[str] = []
    custom: list[re.Pattern[str]] = []
    for item in items:
        if item == "builtin":
            builtin.extend(BUILTIN_PATTERNS.values())
        elif isinstance(item, str) and item in BUILTIN_PATTERNS:
            builtin.append(BUILTIN_PATTERNS[item])
        elif isinstance(item, str):
            try:
                custom.append(re.compile(item))
            except re.error as exc:
                raise ConfigError(
                    f"config {key!r}: {item!r} is not a valid regular expression ({exc}). "
                    "Escape special characters or use a built-in name: "
                    f"{sorted(BUILTIN_PATTERNS)}."
                ) from None
        elif isinstance(item, re.Pattern):
            custom.append(item)
        else:
            raise ConfigError(
                f"config {key!r}: list items must be regex strings or built-in names, got {item!r}."
            )
    combined = re.compile("|".join(f"(?:{p})" for p in builtin)) if builtin else None

    def _custom_sub(match: re.Match[str]) -> str:
        if match.re.groups:
            start, end = match.span(1)
            base = match.start()
            text = match.group(0)
            return text[: start - base] + MASK + text[end - base :]
        return MASK

    def redact(text: str) -> str:
        if combined is not None:
            text = _builtin_sub(combined, text)
        for pattern in custom:
            text = pattern.sub(_custom_sub, text)
        return text

    return redact


def _builtin_sub(pattern: re.Pattern[str], text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        # Only the alternative that matched has its (prefix) group set.
        whole_start = match.start()
        for idx in range(1, (match.re.groups or 0) + 1):
            if match.group(idx) is not None:
                return text[whole_start : match.end(idx)] + MASK
        return MASK

    return pattern.sub(repl, text)
