"""Built-in PII patterns (e-mail, payment cards, US SSNs, IBANs, IPv4/IPv6 addresses,
international phone numbers) and their hint-keeping masks.

Each pattern follows the convention of the secret patterns in `laketrace.log.redact`: plain
regex syntax that Python's ``re`` and ``java.util.regex`` read alike, and exactly one
capturing group in each alternative. What the group means depends on the pattern's mask:

- ``"prefix"`` (e-mail, IPv4, IPv6): the text from the match start to the end of the group
  that took part is kept, the rest of the match becomes ``***``. The e-mail pattern matches
  only the local part (the domain is a lookahead), so ``john.doe@example.com`` becomes
  ``j***@example.com``; ``192.168.10.7`` becomes ``192.168.***``; ``2001:db8:0:1::7``
  becomes ``2001:db8:***``.
- ``"suffix"`` (cards, SSNs, IBANs, phones): the group (the end of the match) is kept; before
  it every ASCII letter and digit becomes ``*`` and separators stay, so
  ``4242 4242 4242 4242`` becomes ``**** **** **** 4242`` and ``123-45-6789`` becomes
  ``***-**-6789``.

Some matches are masked only when a check passes (``check``): card numbers must pass the
Luhn check (so most order ids and other long numbers stay), IBANs the ISO 13616 mod-97
check, IPv4 addresses have octets of at most 255. The patterns are applied one after
another, in `PII_PATTERNS` order, each to the output of the previous one. `PII_RULES` says
all of this per name, as data, for a JVM appender.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from .secret_fields import MASK

_H = "[0-9A-Fa-f]{1,4}"

#: name -> regex; portable syntax, one capturing group per alternative. Each pattern starts
#: with a character class or a literal and checks what precedes it with a lookbehind placed
#: after that first character: ``re`` then skips quickly to where a match can start.
PII_PATTERNS: dict[str, str] = {
    "email": (
        # not right after "/": abfss://container@account.dfs... is a storage URL
        r"([A-Za-z0-9._%+-])(?<![A-Za-z0-9._%+/-].)[A-Za-z0-9._%+-]{0,63}"
        r"(?=@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-]))"
    ),
    "iban": (
        r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]{4}){2,7} ?([A-Z0-9]{1,4})"
        r"(?![A-Za-z0-9])"
    ),
    "card_number": (
        # 13-19 digits: contiguous, or in groups of four (Amex: 4-6-5) with spaces or dashes
        r"[0-9](?<![0-9][0-9])[0-9]{3}(?:[0-9]{5,11}([0-9]{4})"
        r"|[ -][0-9]{4}[ -][0-9]{4}[ -]?[0-9]{0,3}([0-9]{4})"
        r"|[ -][0-9]{6}[ -][0-9]([0-9]{4}))(?![0-9])"
    ),
    "us_ssn": (
        # area 001-899 but 666, group 01-99, serial 0001-9999
        r"[0-8](?<![0-9-][0-8])[0-9]{2}(?<!000|666)-[0-9]{2}(?<!00)-([0-9]{4})(?<!0000)"
        r"(?![0-9-])"
    ),
    "phone": (
        # E.164 numbers written with a leading +: 8 to 15 digits, spaces, dots, dashes, parens
        r"\+(?<![A-Za-z0-9+].)[1-9](?:[ .-]?\(?[0-9]\)?){5,12}[ .-]?([0-9]{2})(?![0-9])"
    ),
    "ipv6": (
        # full (8 groups), "::"-compressed after two groups, or after one group
        rf"[0-9A-Fa-f](?<![0-9A-Fa-f:].)(?:([0-9A-Fa-f]{{0,3}}:{_H}:)(?:{_H}:){{5}}{_H}"
        rf"|([0-9A-Fa-f]{{0,3}}:{_H}:)(?:{_H}:){{0,4}}:(?:{_H}(?::{_H}){{0,4}})?"
        rf"|([0-9A-Fa-f]{{0,3}}::){_H}(?::{_H}){{1,5}})(?![0-9A-Fa-f:])"
    ),
    "ipv4": (
        # octets of up to three digits; the "ipv4" check keeps each at most 255
        r"([0-9](?<![0-9][0-9])(?<![0-9]\.[0-9])[0-9]{0,2}\.[0-9]{1,3}\.)[0-9]{1,3}\.[0-9]{1,3}"
        r"(?![0-9]|\.[0-9])"
    ),
}


class PiiRule(NamedTuple):
    """How a PII pattern masks: ``mask`` is ``"prefix"`` or ``"suffix"`` (module docstring),
    ``check`` names the validation a match must pass (``"luhn"``, ``"mod97"``, ``"ipv4"``
    or None)."""

    mask: str
    check: str | None


PII_RULES: dict[str, PiiRule] = {
    "email": PiiRule("prefix", None),
    "iban": PiiRule("suffix", "mod97"),
    "card_number": PiiRule("suffix", "luhn"),
    "us_ssn": PiiRule("suffix", None),
    "phone": PiiRule("suffix", None),
    "ipv6": PiiRule("prefix", None),
    "ipv4": PiiRule("prefix", "ipv4"),
}


#: a digit doubled by the Luhn rule, as one digit (2 * d, minus 9 when over 9)
_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    """The Luhn check of payment card numbers.

    >>> luhn_ok("4242424242424242"), luhn_ok("4242424242424241")
    (True, False)
    """
    rev = digits[::-1]
    # the sum of ASCII codes, less 48 ("0") per digit: the digit sum, without an int() each
    total = sum(rev[0::2].encode()) + sum(rev[1::2].translate(_LUHN_DOUBLE).encode())
    return (total - 48 * len(rev)) % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 check of an IBAN (spaces ignored): mod 97 of the rearranged number is 1.

    >>> iban_ok("DE89 3704 0044 0532 0130 00"), iban_ok("DE88 3704 0044 0532 0130 00")
    (True, False)
    """
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_SEPARATORS = str.maketrans("", "", " -")
_CHECKS: dict[str, Callable[[str], bool]] = {
    "luhn": lambda text: luhn_ok(text.translate(_SEPARATORS)),
    "mod97": iban_ok,
    "ipv4": lambda text: max(map(int, text.split("."))) <= 255,
}
_STARS = str.maketrans(
    dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "*")
)


def _kept_group(match: re.Match[str]) -> int:
    idx = match.lastindex
    return idx if idx is not None else 0


def _replacer(name: str) -> Callable[[re.Match[str]], str]:
    rule = PII_RULES[name]
    check = _CHECKS[rule.check] if rule.check else None
    if rule.mask == "prefix":

        def prefix(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            idx = _kept_group(match)
            return match.string[match.start() : match.end(idx)] + MASK if idx else MASK

        return prefix

    def suffix(match: re.Match[str]) -> str:
        text = match.group(0)
        if check is not None and not check(text):
            return text
        idx = match.lastindex
        cut = match.start(idx) - match.start() if idx else len(text)
        return text[:cut].translate(_STARS) + text[cut:]

    return suffix


# Cheap tests that reject text which cannot hold a match: a literal every match contains
# (checked with ``in``) and/or a short regex every match contains. Ordinary text then costs
# a few substring checks and at most a few short scans instead of every pattern's scan.
_NEEDS: dict[str, tuple[str | None, str | None]] = {
    "email": ("@", None),
    "iban": (None, "[A-Z][A-Z][0-9][0-9]"),
    "card_number": (None, "[0-9][0-9][0-9][0-9][ -]?[0-9][0-9][0-9][0-9]"),
    "us_ssn": ("-", None),
    "phone": ("+", None),
    "ipv6": (":", "[0-9A-Fa-f]:[0-9A-Fa-f:]"),
    "ipv4": (".", "[0-9][.][0-9]"),
}


def _need(name: str) -> Callable[[str], bool]:
    literal, regex = _NEEDS[name]
    search = re.compile(regex).search if regex else None
    if search is None:
        return lambda text: literal in text  # type: ignore[operator]
    if literal is None:
        return lambda text: search(text) is not None
    return lambda text: literal in text and search(text) is not None


_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_EMAIL_DOMAIN = re.compile(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])",
    re.ASCII,
).match


def _email_sub(_repl: object, text: str) -> str:
    """``re.sub`` of the ``email`` pattern with its prefix mask, found from each ``@``.

    The pattern's local part is a run of `_LOCAL_CHARS` (none of which is ``@``) of at most
    64 characters, not preceded by one (nor by ``/``), right before an ``@`` with a valid
    domain: so each match is the whole run before such an ``@``, and scanning for ``@``
    finds the same matches as the regex's start-at-every-character scan, much sooner.
    """
    out: list[str] = []
    last = 0
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        if (
            start < at
            and at - start <= 64
            and (start == 0 or text[start - 1] != "/")
            and _EMAIL_DOMAIN(text, at) is not None
        ):
            out.append(text[last : start + 1])
            out.append(MASK)
            last = at
        at = text.find("@", at + 1)
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _step(name: str) -> tuple[Callable[[str], bool], Callable[..., str], Any]:
    if name == "email":
        return _need(name), _email_sub, None
    return _need(name), re.compile(PII_PATTERNS[name], re.ASCII).sub, _replacer(name)


class PiiMasker:
    """The chosen PII patterns, applied in `PII_PATTERNS` order: ``masker(text)``."""

    __slots__ = ("needs", "steps")

    def __init__(self, names: list[str]) -> None:
        chosen = [n for n in PII_PATTERNS if n in names]
        self.steps = tuple(_step(n) for n in chosen)
        self.needs = tuple(step[0] for step in self.steps)

    def might_match(self, text: str) -> bool:
        """False when no chosen pattern can match ``text`` (it is then left unchanged)."""
        return any(need(text) for need in self.needs)

    def __call__(self, text: str) -> str:
        for needs, sub, repl in self.steps:
            if needs(text):
                text = sub(repl, text)
        return text

    def many(self, texts: list[str]) -> list[str]:
        """``[self(t) for t in texts]`` in one pass: no pattern matches across a NUL, and a
        NUL behaves like the start or end of a text for every pattern's look-arounds."""
        joined = "\x00".join(texts)
        if joined.count("\x00") != len(texts) - 1:
            return [self(t) for t in texts]
        masked = self(joined)
        return texts if masked == joined else masked.split("\x00")


__all__ = ["PII_PATTERNS", "PII_RULES", "PiiMasker", "PiiRule", "iban_ok", "luhn_ok"]
