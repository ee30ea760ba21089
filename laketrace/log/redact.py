"""Secret masking: the ``redact`` config compiled once into a `Redactor`.

Three rules, applied to every record before any handler, filter or formatter sees it:

- text patterns (`BUILTIN_PATTERNS` plus user regexes) mask the secret part of any text;
- fields *named* like a secret (`is_secret_name`) are masked whatever their value, at any
  nesting depth of dicts, lists and tuples;
- the values of those fields are also masked wherever else they appear in the record
  (message, other fields, exception), when at least `MIN_LITERAL` characters long.

`BUILTIN_PATTERNS` is the one definition of the built-in patterns; `builtin_patterns()`
hands them out as plain, portable regex strings (Python ``re`` and ``java.util.regex``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..record.encoding import context_value
from ..record.record import ExceptionInfo, JobContext, Record, mask_exception

MASK = "***"
#: field values shorter than this are masked in their field only, not elsewhere in the record
MIN_LITERAL = 4
_MAX_DEPTH = 32
_MAX_NODES = 10_000

# Portable syntax only (no named groups, no Python-only flags): a JVM appender loads these.
# Each alternative of a pattern has exactly one capturing group; the text up to the end of
# that group is kept and the rest of the match becomes MASK.
_SECRET_KEY = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|account[_-]?key|private[_-]?key|subscription[_-]?key|credentials?)"
)
_SEP = r"[\"']?\s*[=:]\s*"
BUILTIN_PATTERNS: dict[str, str] = {
    "bearer": r"(\b[Bb]earer\s+)[A-Za-z0-9\-._~+/]+=*",
    "databricks_token": r"()\bdapi[0-9a-f]{32}(?:-[0-9]+)?\b",
    "azure_sas_sig": (r"(?i:((?:\b|%26|%3F|\\u0026)sig(?:=|%3D))(?:[^&\s\"'<>%]|%(?!26))+)"),
    "url_signature": (r"(?i:((?:\b|%26|\\u0026)signature(?:=|%3D))(?:[^&\s\"'<>%]|%(?!26))+)"),
    "key_value": (
        rf"(?i:({_SECRET_KEY}{_SEP}\")(?:[^\"\\\r\n]|\\.)*"
        rf"|({_SECRET_KEY}{_SEP}')[^'\r\n]*"
        rf"|({_SECRET_KEY}{_SEP})[^\s\"'&,;<>]+)"
    ),
    "connection_string_key": r"(\b(?:AccountKey|SharedAccessKey)=)[^;\s\"']+",
    "authorization_header": (
        r"(?i:(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z][a-z0-9-]{0,30}\s+)?)"
        r"[^\s\"',;]+)"
    ),
    "basic_auth": (
        # base64 (length a multiple of 4) with an upper case letter, digit or symbol after
        # its first character: "Basic Settings" stays as it is
        r"(\b[Bb]asic\s+)(?=[A-Za-z0-9+/]*?[A-Za-z0-9+/][A-Z0-9+/=])"
        r"(?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])"
    ),
    "url_credentials": (
        r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:\"'<>]{0,256}:)[^\s/?#\"'<>]+(?=@)"
        r"|(\bjdbc:oracle:[A-Za-z]{1,10}:[^\s/@:\"'<>]{0,256}/)[^\s@\"'<>]+(?=@)"
    ),
    "jwt": r"()\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    "private_key": r"(-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----)[\s\S]*?(?=-----END|$)",
}

#: a field name containing one of these (lowercased, separators removed) is a secret
SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "accesskey",
    "accountkey",
    "privatekey",
    "sharedkey",
    "signingkey",
    "masterkey",
    "encryptionkey",
    "subscriptionkey",
    "authorization",
    "cookie",
)
#: ... or ending with one of these
SECRET_NAME_ENDINGS = ("token", "pwd")
#: ... or with one of these as a word (split at ``_ - .``, spaces and camelCase)
SECRET_NAME_WORDS = ("token", "pwd", "auth", "sig", "sas", "signature")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_REGEX_CHARS = frozenset("\\.^$*+?{}[]()|")


def builtin_patterns() -> dict[str, str]:
    """The built-in patterns as ``{name: regex}`` plain strings (JSON-serialisable).

    Each pattern uses only syntax that Python's ``re`` and ``java.util.regex`` read alike
    (plain groups, ``(?i:...)``, lookahead). Mask rule: each alternative has one capturing
    group; keep the text from the match start to the end of the group that took part and
    replace the rest of the match with ``"***"``.

    >>> import json, re
    >>> all(re.compile(p) for p in builtin_patterns().values())
    True
    >>> json.loads(json.dumps(builtin_patterns())) == builtin_patterns()
    True
    """
    return dict(BUILTIN_PATTERNS)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True for a field name that holds a secret (``password``, ``AccountKey``, ``x-api-key``...).

    >>> [is_secret_name(n) for n in ("PASSWORD", "db_password", "AccountKey", "max_tokens")]
    [True, True, True, False]
    """
    words = [w.lower() for w in _WORDS.findall(name)]
    compact = "".join(words)
    return (
        any(part in compact for part in SECRET_NAME_PARTS)
        or compact.endswith(SECRET_NAME_ENDINGS)
        or any(w in SECRET_NAME_WORDS for w in words)
    )


def _secret_key(key: object) -> bool:
    try:
        return is_secret_name(key if type(key) is str else str(key))  # type: ignore[arg-type]
    except Exception:
        return False


class _Walk:
    """One pass over a record's field values: masks secret-named keys at any depth and
    collects the masked values. Bounded in depth and in nodes, so shared or cyclic
    structures cost little; what it does not reach is still covered by the text patterns."""

    __slots__ = ("budget", "secrets")

    def __init__(self) -> None:
        self.budget = _MAX_NODES
        self.secrets: list[str] = []

    def mask(self, value: Any, depth: int = 0) -> Any:
        """``value`` with every secret-named key's value replaced by MASK (copy on change)."""
        self.budget -= 1
        if depth >= _MAX_DEPTH or self.budget < 0:
            return value
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            changed = False
            for k, v in list(value.items()):
                if _secret_key(k):
                    self.collect(v, depth + 1)
                    out[k], changed = MASK, True
                else:
                    new = out[k] = self.mask(v, depth + 1)
                    changed = changed or new is not v
            return out if changed else value
        if isinstance(value, (list, tuple)):
            items = [self.mask(v, depth + 1) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else tuple(items)
        return value

    def collect(self, value: Any, depth: int = 0) -> None:
        """Remember the scalar texts inside a secret field's value."""
        self.budget -= 1
        if type(value) is str:
            self.secrets.append(value)
        elif type(value) in (int, float):
            self.secrets.append(str(value))
        elif depth >= _MAX_DEPTH or self.budget < 0:
            return
        elif isinstance(value, Mapping):
            for v in list(value.values()):
                self.collect(v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                self.collect(v, depth + 1)

    def field(self, key: Any, value: Any) -> Any:
        """One top-level field: MASK for a secret name, else the value with nested keys masked."""
        try:
            if _secret_key(key):
                self.collect(value)
                return MASK
            return self.mask(value)
        except Exception:  # a hostile mapping or sequence: its text is still pattern-masked
            return value

    def literals(self) -> list[str]:
        """Secret values worth masking elsewhere, longest first (none is left half-masked)."""
        found = {s for s in self.secrets if len(s) >= MIN_LITERAL and s != MASK}
        return sorted(found, key=len, reverse=True)


class Redactor:
    """The compiled ``redact`` config: ``redactor(text)`` masks text; `record` masks a record.

    Picklable (it pickles as its config), so executor-side loggers carry it into tasks.
    """

    __slots__ = ("_builtin", "_custom", "_names", "spec")

    def __init__(
        self, spec: object, builtin: re.Pattern[str] | None, custom: list[re.Pattern[str]]
    ) -> None:
        self.spec = spec
        self._builtin = builtin
        self._custom = custom
        self._names: dict[Any, Any] = {}

    def __reduce__(self) -> tuple:
        return (compile_redactor, (self.spec,))

    def __call__(self, text: str) -> str:
        """``text`` with every pattern's secret part replaced by ``***``."""
        if self._builtin is not None:
            text = self._builtin.sub(_builtin_repl, text)
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
        walk = _Walk()
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

    Accepted: ``False``/``None`` (off), ``True`` (all built-in patterns), or a list of
    built-in pattern names and regular expressions (``"builtin"`` adds all built-ins;
    compiled ``re.Pattern`` objects are taken as they are). A string without any regex
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
            f"{sorted(BUILTIN_PATTERNS)} and regular expressions, got {value!r}."
        )
    builtin: list[str] = []
    custom: list[re.Pattern[str]] = []
    for item in items:
        if item == "builtin":
            builtin.extend(p for p in BUILTIN_PATTERNS.values() if p not in builtin)
        elif isinstance(item, str) and item in BUILTIN_PATTERNS:
            if BUILTIN_PATTERNS[item] not in builtin:
                builtin.append(BUILTIN_PATTERNS[item])
        elif isinstance(item, str):
            custom.append(_user_regex(item, key))
        elif isinstance(item, re.Pattern) and isinstance(item.pattern, str):
            custom.append(item)
        else:
            raise ConfigError(
                f"config {key!r}: list items must be built-in pattern names or regular "
                f"expressions (str or re.Pattern), got {item!r}."
            )
    combined = re.compile("|".join(f"(?:{p})" for p in builtin)) if builtin else None
    frozen = tuple(value) if isinstance(value, list) else value
    return Redactor(frozen, combined, custom)


def _user_regex(item: str, key: str) -> re.Pattern[str]:
    names = sorted(BUILTIN_PATTERNS)
    if not _REGEX_CHARS.intersection(item):
        close = difflib.get_close_matches(item, [*names, "builtin"], n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"config {key!r}: {item!r} is not a built-in pattern name.{hint} Built-in names: "
            f"{names} (or 'builtin' for all). A regular expression must contain a regex "
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
