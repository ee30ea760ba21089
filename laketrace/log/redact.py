"""Secret masking: the ``redact`` config compiled once into a `Redactor`.

Three rules, applied to every record before any handler, filter or formatter sees it:

- text patterns (`BUILTIN_PATTERNS` plus user regexes) mask the secret part of any text;
- fields *named* like a secret (`is_secret_name`) are masked whatever their value, at any
  nesting depth of dicts, lists and tuples;
- the values of those fields are also masked wherever else they appear in the record
  (message, other fields, exception), when at least `MIN_LITERAL` characters long.

`BUILTIN_PATTERNS` is the one definition of the built-in patterns: the secret patterns
defined here and the PII patterns of `laketrace.log.pii` (e-mail, cards, SSNs, IBANs, IP
addresses, phone numbers; masks that keep a hint). `builtin_patterns()` hands them out as
plain, portable regex strings (Python ``re`` and ``java.util.regex``), `builtin_masks()`
says how each one masks. In the ``redact`` config ``"builtin"`` (or ``True``) selects every
secret pattern and ``"pii"`` every PII pattern.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..record.encoding import context_value
from ..record.record import ExceptionInfo, JobContext, Record, mask_exception
from .pii import PII_PATTERNS, PII_RULES, PiiMasker
from .secret_fields import (
    MASK,
    MIN_LITERAL,
    SECRET_NAME_ENDINGS,
    SECRET_NAME_PARTS,
    SECRET_NAME_WORDS,
    SecretWalk,
    is_secret_name,
)

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
#: every built-in pattern by name: the secret patterns, then the PII patterns
BUILTIN_PATTERNS: dict[str, str] = {**SECRET_PATTERNS, **PII_PATTERNS}
#: the names ``"builtin"`` and ``"pii"`` select in the ``redact`` config
PATTERN_GROUPS: dict[str, tuple[str, ...]] = {
    "builtin": tuple(SECRET_PATTERNS),
    "pii": tuple(PII_PATTERNS),
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

_REGEX_CHARS = frozenset("\\.^$*+?{}[]()|")


def builtin_patterns() -> dict[str, str]:
    """The built-in patterns as ``{name: regex}`` plain strings (JSON-serialisable).

    Each pattern uses only syntax that Python's ``re`` and ``java.util.regex`` read alike
    (plain groups, ``(?i:...)``, lookaround). Each alternative has one capturing group;
    `builtin_masks()` says what it keeps. Secret patterns (``"prefix"``): keep the text
    from the match start to the end of the group that took part and replace the rest of
    the match with ``"***"``; they are one alternation (the leftmost match wins). PII
    patterns follow, applied one after another over the result (`laketrace.log.pii`).

    >>> import json, re
    >>> all(re.compile(p) for p in builtin_patterns().values())
    True
    >>> json.loads(json.dumps(builtin_patterns())) == builtin_patterns()
    True
    """
    return dict(BUILTIN_PATTERNS)


def builtin_masks() -> dict[str, dict[str, str | None]]:
    """How each built-in pattern masks, as data: ``{name: {"mask": ..., "check": ...}}``.

    ``mask`` is ``"prefix"`` (keep up to the end of the group, then ``***``) or
    ``"suffix"`` (keep the group; before it every ASCII letter and digit becomes ``*``,
    other characters stay); ``check`` is ``"luhn"``, ``"mod97"`` (IBAN) or None: a match
    failing its check is left as it is.

    >>> builtin_masks()["card_number"]
    {'mask': 'suffix', 'check': 'luhn'}
    """
    out: dict[str, dict[str, str | None]] = {
        n: {"mask": "prefix", "check": None} for n in SECRET_PATTERNS
    }
    out.update({n: {"mask": r.mask, "check": r.check} for n, r in PII_RULES.items()})
    return out


class Redactor:
    """The compiled ``redact`` config: ``redactor(text)`` masks text; `record` masks a record.

    Picklable (it pickles as its config), so executor-side loggers carry it into tasks.
    """

    __slots__ = ("_builtin", "_custom", "_names", "_pii", "spec")

    def __init__(self, spec: object, builtin: list[str], custom: list[re.Pattern[str]]) -> None:
        self.spec = spec
        secrets = [n for n in builtin if n in SECRET_PATTERNS]
        pii = [n for n in builtin if n in PII_PATTERNS]
        self._builtin = _Builtins(secrets) if secrets else None
        self._pii = PiiMasker(pii) if pii else None
        self._custom = custom
        self._names: dict[Any, Any] = {}

    def __reduce__(self) -> tuple:
        return (compile_redactor, (self.spec,))

    def __call__(self, text: str) -> str:
        """``text`` with every pattern's secret part replaced by ``***``."""
        if self._builtin is not None:
            text = self._builtin.sub(text)
        if self._pii is not None:
            text = self._pii(text)
        for pattern in self._custom:
            text = pattern.sub(_custom_repl, text)
        return text

    def _text(self, text: str, literals: list[str]) -> str:
        text = self(text)
        for lit in literals:
            if lit in text:
                text = text.replace(lit, MASK)
        return text

    def mask_call(self, msg: str, extra: Mapping[Any, Any]) -> tuple[str, dict[Any, Any]]:
        """The message and fields of one call, masked by all three rules."""
        msg, out, _ = self._mask(msg, extra)
        return msg, out

    def _mask(self, msg: str, extra: Mapping[Any, Any]) -> tuple[str, dict[Any, Any], list[str]]:
        walk = SecretWalk()
        masked = [(k, walk.field(k, v)) for k, v in extra.items()] if extra else []
        literals = walk.literals()
        out: dict[Any, Any] = {}
        for k, v in masked:
            try:
                text = v if type(v) is str else context_value(v)
            except Exception:  # context_value is meant never to raise; never trust it here
                text = "<unprintable value>"
            new = self._text(text, literals)
            out[k] = new if (new != text or type(v) is str) else v
        return self._text(msg, literals), out, literals

    def record(self, rec: Record) -> None:
        """Mask ``rec`` in place: message, fields, exception, logger and other origin names."""
        rec.message, rec.extra, literals = self._mask(rec.message, rec.extra)
        if rec.exception is not None:
            rec.exception = self.exception(rec.exception, literals)
        self.origin(rec)

    def exception(self, info: ExceptionInfo, literals: list[str] | None = None) -> ExceptionInfo:
        """``info`` rendered once (class, message, frames, traceback text), masked."""
        lits = literals or []
        return mask_exception(info, lambda text: self._text(text, lits))

    def origin(self, rec: Record) -> None:
        """Mask the names a record carries: logger, thread, app name, job group, notebook."""
        names = self._names
        if len(names) > 4096:
            names.clear()
        for attr in ("logger_name", "thread_name", "app_name", "job"):
            value = getattr(rec, attr, None)
            if value is None:
                continue
            masked = names.get(value)
            if masked is None:
                masked = names[value] = self._origin_value(value)
            setattr(rec, attr, masked)

    def _origin_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, JobContext):
            group, notebook = value.job_group, value.notebook
            return value._replace(
                job_group=self(group) if isinstance(group, str) else group,
                notebook=self(notebook) if isinstance(notebook, str) else notebook,
            )
        return value


class _Builtins:
    """The chosen built-in patterns as one regex, tried only where a trigger literal occurs.

    Same result as ``pattern.sub`` (the leftmost match wins, then the first alternative),
    but ``re`` no longer tries every alternative at every position: text without any
    trigger costs a ``lower()`` and a few ``str.find`` calls. Compiled with ``re.ASCII``,
    as ``java.util.regex`` reads them by default.
    """

    __slots__ = ("any_trigger", "pattern", "triggers")

    def __init__(self, names: list[str]) -> None:
        self.pattern = re.compile("|".join(f"(?:{BUILTIN_PATTERNS[n]})" for n in names), re.ASCII)
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
                parts.append(_builtin_repl(m))
                last = m.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)


def _builtin_repl(match: re.Match[str]) -> str:
    idx = match.lastindex
    if idx is None:
        return MASK
    return match.string[match.start() : match.end(idx)] + MASK


def _custom_repl(match: re.Match[str]) -> str:
    if match.re.groups:
        start, end = match.span(1)
        if start < 0:
            return MASK
        base = match.start()
        text = match.group(0)
        return text[: start - base] + MASK + text[end - base :]
    return MASK


def compile_redactor(value: object, *, key: str = "redact") -> Redactor | None:
    """Parse the ``redact`` config once into a `Redactor` (or None when off).

    Accepted: ``False``/``None`` (off), ``True`` (all secret patterns), or a list of
    built-in pattern names and regular expressions (``"builtin"`` adds all secret patterns,
    ``"pii"`` all PII patterns; compiled ``re.Pattern`` objects are taken as they are).
    A string without any regex
    metacharacter is a pattern *name*: it must be a built-in name, so a typo is an error
    instead of a regex that protects nothing. A user regex masks group 1 if it has groups,
    else its whole match. Field-name masking is on whenever redaction is.

    >>> compile_redactor(True)("password=hunter2 user=bob")
    'password=*** user=bob'
    """
    if value is None or value is False:
        return None
    if value is True:
        items: Iterable[object] = ["builtin"]
    elif isinstance(value, (str, re.Pattern)):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ConfigError(
            f"config {key!r}: expected True, False, or a list of built-in pattern names "
            f"{sorted(BUILTIN_PATTERNS)} ('builtin' for all secret patterns, 'pii' for all "
            f"PII patterns) and regular expressions, got {value!r}."
        )
    builtin: set[str] = set()
    custom: list[re.Pattern[str]] = []
    for item in items:
        if isinstance(item, str) and item in PATTERN_GROUPS:
            builtin.update(PATTERN_GROUPS[item])
        elif isinstance(item, str) and item in BUILTIN_PATTERNS:
            builtin.add(item)
        elif isinstance(item, str):
            custom.append(_user_regex(item, key))
        elif isinstance(item, re.Pattern) and isinstance(item.pattern, str):
            custom.append(item)
        else:
            raise ConfigError(
                f"config {key!r}: list items must be built-in pattern names or regular "
                f"expressions (str or re.Pattern), got {item!r}."
            )
    frozen = tuple(value) if isinstance(value, list) else value
    return Redactor(frozen, [n for n in BUILTIN_PATTERNS if n in builtin], custom)


def _user_regex(item: str, key: str) -> re.Pattern[str]:
    names = sorted(BUILTIN_PATTERNS)
    if not _REGEX_CHARS.intersection(item):
        close = difflib.get_close_matches(item, [*names, *PATTERN_GROUPS], n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"config {key!r}: {item!r} is not a built-in pattern name.{hint} Built-in names: "
            f"{names} (or 'builtin' for all secret patterns, 'pii' for all PII patterns). "
            "A regular expression must contain a regex "
            "metacharacter (one of \\ . ^ $ * + ? { } [ ] ( ) |); to mask a literal word, "
            rf"write r'\b{item}\b' or pass re.compile({item!r})."
        )
    try:
        return re.compile(item)
    except re.error as exc:
        raise ConfigError(
            f"config {key!r}: {item!r} is not a valid regular expression ({exc}). Escape "
            f"special characters or use a built-in name: {names}."
        ) from None


__all__ = [
    "BUILTIN_PATTERNS",
    "MASK",
    "MIN_LITERAL",
    "SECRET_NAME_ENDINGS",
    "SECRET_NAME_PARTS",
    "SECRET_NAME_WORDS",
    "PATTERN_GROUPS",
    "Redactor",
    "SECRET_PATTERNS",
    "builtin_masks",
    "builtin_patterns",
    "compile_redactor",
    "is_secret_name",
]
