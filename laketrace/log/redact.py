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
from .secret_patterns import SECRET_PATTERNS, SecretMatcher, secret_repl

#: every built-in pattern by name: the secret patterns, then the PII patterns
BUILTIN_PATTERNS: dict[str, str] = {**SECRET_PATTERNS, **PII_PATTERNS}
#: the names ``"builtin"`` and ``"pii"`` select in the ``redact`` config
PATTERN_GROUPS: dict[str, tuple[str, ...]] = {
    "builtin": tuple(SECRET_PATTERNS),
    "pii": tuple(PII_PATTERNS),
}
_builtin_repl = secret_repl  # the secret patterns' mask rule (tests compare against it)
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

    __slots__ = ("_builtin", "_custom", "_names", "_pii", "secrets", "spec")

    def __init__(self, spec: object, builtin: list[str], custom: list[re.Pattern[str]]) -> None:
        self.spec = spec
        secrets = [n for n in builtin if n in SECRET_PATTERNS]
        #: the chosen built-in secret patterns by name (handed to the JVM log appender)
        self.secrets = tuple(secrets)
        pii = [n for n in builtin if n in PII_PATTERNS]
        self._builtin = SecretMatcher(secrets) if secrets else None
        self._pii = PiiMasker(pii) if pii else None
        self._custom = custom
        self._names: dict[Any, Any] = {}

    def __reduce__(self) -> tuple:
        return (compile_redactor, (self.spec,))

    def secret_regexes(self) -> list[str]:
        """The chosen built-in secret patterns as portable regexes (`builtin_patterns`), for
        writers outside Python (the JVM appender masks with them exactly as `SecretMatcher`).

        >>> compile_redactor(["bearer"]).secret_regexes() == [builtin_patterns()["bearer"]]
        True
        """
        return [BUILTIN_PATTERNS[n] for n in self.secrets]

    def __call__(self, text: str) -> str:
        """``text`` with every pattern's secret part replaced by ``***``."""
        if self._builtin is not None:
            text = self._builtin.sub(text)
        if self._pii is not None:
            text = self._pii(text)
        for pattern in self._custom:
            text = pattern.sub(_custom_repl, text)
        return text

    def _many(self, texts: list[str]) -> list[str]:
        """``[self(t) for t in texts]``, with the PII patterns run once over all of them."""
        if self._builtin is not None:
            texts = [self._builtin.sub(t) for t in texts]
        if self._pii is not None:
            texts = self._pii.many(texts)
        for pattern in self._custom:
            texts = [pattern.sub(_custom_repl, t) for t in texts]
        return texts

    def _text(self, text: str, literals: list[str]) -> str:
        text = self(text)
        for lit in literals:
            if lit in text:
                text = text.replace(lit, MASK)
        return text

    def mask_call(self, msg: str, extra: Mapping[Any, Any]) -> tuple[str, dict[Any, Any]]:
        """The message and fields of one call, masked by all three rules."""
        msg, out, _ = self._mask(msg, extra)
        return msg, out  # type: ignore[return-value]

    def _might_match(self, text: str) -> bool:
        """False when no built-in pattern can match ``text`` (and there are no user regexes)."""
        if self._custom:
            return True
        if self._builtin is not None and self._builtin.starts(text):
            return True
        return self._pii is not None and self._pii.might_match(text)

    def _mask(self, msg: str, extra: Mapping[Any, Any]) -> tuple[str, Mapping[Any, Any], list[str]]:
        texts = _scalar_texts(msg, extra)
        if texts is not None:
            # no secret-named field and only scalar values (the usual call): no literals
            # to mask elsewhere, so each text is masked alone, or nothing at all is masked
            if not self._might_match("\n".join(texts)):
                return msg, extra, []
            news = self._many(texts)
            fields: dict[Any, Any] = {}
            for (k, v), text, new in zip(extra.items(), texts[1:], news[1:], strict=True):
                fields[k] = new if (new != text or type(v) is str) else v
            return news[0], fields, []
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
        rec.message, extra, literals = self._mask(rec.message, rec.extra)
        rec.extra = extra if type(extra) is dict else dict(extra)
        if rec.exception is not None:
            rec.exception = self.exception(rec.exception, literals)
        self.origin(rec)

    def exception(self, info: ExceptionInfo, literals: list[str] | None = None) -> ExceptionInfo:
        """``info`` rendered once (class, message, frames, traceback text), masked."""
        lits = literals or []
        return mask_exception(info, lambda text: self._text(text, lits))

    def name(self, value: str) -> str:
        """A name (thread, logger) masked, cached like `origin`'s."""
        masked = self._names.get(value)
        if masked is None:
            if len(self._names) > 4096:
                self._names.clear()
            masked = self._names[value] = self(value)
        return masked  # type: ignore[no-any-return]

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


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _scalar_texts(msg: str, extra: Mapping[Any, Any]) -> list[str] | None:
    """``[msg, text of each field]`` when no field is secret-named and every value is a
    scalar; None otherwise (the general rule then applies)."""
    texts = [msg]
    try:
        for k, v in extra.items():
            tv = type(v)
            if tv not in _SCALARS or is_secret_name(k if type(k) is str else str(k)):
                return None
            texts.append(v if tv is str else context_value(v))
    except Exception:  # a hostile mapping: the general rule contains it
        return None
    return texts


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
