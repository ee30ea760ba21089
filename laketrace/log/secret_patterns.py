"""The built-in secret patterns (bearer and Databricks tokens, SAS and URL signatures,
key=value secrets, connection-string keys, Authorization headers, basic auth, URL and JDBC
credentials, JWTs, private keys) and `SecretMatcher`, which tries them only where one of
their trigger literals occurs.

`laketrace.log.redact` joins them with the PII patterns into ``BUILTIN_PATTERNS``.
"""

from __future__ import annotations

import re

from .secret_fields import MASK

# Portable syntax only (no named groups, no Python-only flags): a JVM appender loads these.
# Each alternative of a pattern has exactly one capturing group; the text up to the end of
# that group is kept and the rest of the match becomes MASK. Every match starts at (or a
# fixed distance before) one of its pattern's `_TRIGGERS`, which is what keeps masking fast.
_SECRET_KEY = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|account[_-]?key|private[_-]?key|subscription[_-]?key|credentials?)"
)
_SEP = r"(?:\\?[\"']|&quot;)?\s*[=:]\s*"
_SIG_VALUE = r"(?:[^&\s\"'<>%]|%(?!26))+"
SECRET_PATTERNS: dict[str, str] = {
    "bearer": r"(\b[Bb]earer\s+)[A-Za-z0-9\-._~+/]+=*",
    "databricks_token": r"()\bdapi[0-9a-f]{32}(?:-[0-9]+)?\b",
    "azure_sas_sig": rf"(?i:((?:\b|%26|%3F|\\u0026)sig(?:=|%3D)){_SIG_VALUE})",
    "url_signature": rf"(?i:((?:\b|%26|%3F|\\u0026)signature(?:=|%3D)){_SIG_VALUE})",
    "key_value": (
        # \"escaped\" JSON inside JSON, "double", 'single', &quot;html&quot; or bare values
        rf"(?i:({_SECRET_KEY}{_SEP}\\\")[^\"\\\r\n]*"
        rf"|({_SECRET_KEY}{_SEP}\")(?:[^\"\\\r\n]|\\.)*"
        rf"|({_SECRET_KEY}{_SEP}')[^'\r\n]*"
        rf"|({_SECRET_KEY}{_SEP}&quot;)(?:[^&\r\n]|&(?!quot;))*"
        rf"|({_SECRET_KEY}{_SEP})[^\s\"'&,;<>]+)"
    ),
    "connection_string_key": r"(\b(?:AccountKey|SharedAccessKey)=)[^;\s\"']+",
    "authorization_header": (
        r"(?i:(\b(?:proxy-)?authorization(?:\\?[\"']|&quot;)?\s*[:=]\s*(?:\\?[\"']|&quot;)?"
        r"(?:[a-z][a-z0-9-]{0,30}\s+)?)[^\s\"',;&\\]+)"
    ),
    "basic_auth": (
        # base64 (length a multiple of 4) with an upper case letter, digit or symbol after
        # its first character: "Basic Settings" stays as it is
        r"(\b[Bb]asic\s+)(?=[A-Za-z0-9+/]*?[A-Za-z0-9+/][A-Z0-9+/=])"
        r"(?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])"
    ),
    "url_credentials": (
        r"(://[^\s/?#@:\"'<>]{0,256}:)[^\s/?#\"'<>]+(?=@)"
        r"|(\bjdbc:oracle:[A-Za-z]{1,10}:[^\s/@:\"'<>]{0,256}/)[^\s@\"'<>]+(?=@)"
    ),
    "jwt": r"()(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    "private_key": r"(-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----)[\s\S]*?(?=-----END|$)",
}
# the first letters of every `_SECRET_KEY` alternative
_KEY_STARTS = "pass pwd secret token api access account private subscription credential".split()
# (lower-case literal, offsets before it where a match may start) per built-in pattern
_TRIGGERS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "bearer": (("bearer", (0,)),),
    "databricks_token": (("dapi", (0,)),),
    "azure_sas_sig": (("sig", (0, 3, 6)),),
    "url_signature": (("signature", (0, 3, 6)),),
    "key_value": tuple((lit, (0,)) for lit in _KEY_STARTS),
    "connection_string_key": (("accountkey", (0,)), ("sharedaccesskey", (0,))),
    "authorization_header": (("authorization", (0, 6)),),
    "basic_auth": (("basic", (0,)),),
    "url_credentials": (("://", (0,)), ("jdbc:oracle:", (0,))),
    "jwt": (("eyj", (0,)),),
    "private_key": (("-----begin", (0,)),),
}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


class SecretMatcher:
    """The chosen built-in patterns as one regex, tried only where a trigger literal occurs.

    Same result as ``pattern.sub`` (the leftmost match wins, then the first alternative),
    but ``re`` no longer tries every alternative at every position: text without any
    trigger costs a ``lower()`` and a few ``str.find`` calls. Compiled with ``re.ASCII``,
    as ``java.util.regex`` reads them by default.
    """

    __slots__ = ("any_trigger", "pattern", "triggers")

    def __init__(self, names: list[str]) -> None:
        self.pattern = re.compile("|".join(f"(?:{SECRET_PATTERNS[n]})" for n in names), re.ASCII)
        self.triggers = tuple(t for n in names for t in _TRIGGERS[n])
        # plain literals only: re scans for their first characters quickly
        self.any_trigger = re.compile("|".join(re.escape(lit) for lit, _ in self.triggers))

    def starts(self, text: str) -> list[int]:
        """Every position where a match may start, ascending."""
        low = text.lower()
        if len(low) != len(text):  # a few non-ASCII letters lower to two characters
            low = text.translate(_ASCII_LOWER)
        # typical short text: one regex scan rejects it; long text: str.find is faster
        if len(low) < 4096 and self.any_trigger.search(low) is None:
            return []
        found: set[int] = set()
        for lit, offsets in self.triggers:
            i = low.find(lit)
            while i >= 0:
                found.update(i - off for off in offsets if off <= i)
                i = low.find(lit, i + 1)
        return sorted(found)

    def sub(self, text: str) -> str:
        parts: list[str] = []
        last = 0
        match = self.pattern.match
        for start in self.starts(text):
            if start < last:
                continue
            m = match(text, start)
            if m is not None:
                parts.append(text[last:start])
                parts.append(secret_repl(m))
                last = m.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)


def secret_repl(match: re.Match[str]) -> str:
    idx = match.lastindex
    if idx is None:
        return MASK
    return match.string[match.start() : match.end(idx)] + MASK


__all__ = ["SECRET_PATTERNS", "SecretMatcher", "secret_repl"]
