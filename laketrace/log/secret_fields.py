"""Fields named like secrets: the name rule and the walk that masks them in nested values.

A field is a secret by its *name* (`is_secret_name`), whatever its value; `SecretWalk`
masks such keys at any depth of dicts, lists and tuples and remembers the masked values,
so that `laketrace.log.redact` can mask them wherever else they appear in the record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
#: field values shorter than this are masked in their field only, not elsewhere in the record
MIN_LITERAL = 4
#: at most this many such values (the longest) are masked elsewhere in one record
MAX_LITERALS = 64
_MAX_DEPTH = 32
_MAX_NODES = 10_000

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


class SecretWalk:
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
        return sorted(found, key=len, reverse=True)[:MAX_LITERALS]
