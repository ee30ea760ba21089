"""Built-in PII patterns (e-mail, payment cards, US SSNs, IBANs, IPv4/IPv6 addresses,
international phone numbers) and their hint-keeping masks.

Each pattern follows the convention of the secret patterns in `laketrace.log.redact`: plain
regex syntax that Python's ``re`` and ``java.util.regex`` read alike, and exactly one
capturing group in each alternative. What the group means depends on the pattern's mask:

- ``"prefix"`` (e-mail, IPv4, IPv6): the text from the match start to the end of the group
  is kept, the rest of the match becomes ``***``. The e-mail pattern matches only the local
  part (the domain is a lookahead), so ``john.doe@example.com`` becomes ``j***@example.com``;
  ``192.168.10.7`` becomes ``192.168.***``; ``2001:db8:0:1::7`` becomes ``2001:db8:***``.
- ``"suffix"`` (cards, SSNs, IBANs, phones): the group (the end of the match) is kept; before
  it every ASCII letter and digit becomes ``*`` and separators stay, so
  ``4242 4242 4242 4242`` becomes ``**** **** **** 4242`` and ``123-45-6789`` becomes
  ``***-**-6789``.

Some matches are masked only when a check passes (``check``): card numbers must pass the
Luhn check (so most order ids and other long numbers stay), IBANs the ISO 13616 mod-97
check. The patterns are applied one after another, in `PII_PATTERNS` order, each to the
output of the previous one. `PII_RULES` says all of this per name, as data, for a JVM
appender.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

MASK = "***"
_H = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

#: name -> regex; portable syntax, one capturing group per alternative
PII_PATTERNS: dict[str, str] = {
    "email": (
        # not right after "/": abfss://container@account.dfs... is a storage URL
        r"(?<![A-Za-z0-9._%+/-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{0,63}"
        r"(?=@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-]))"
    ),
    "iban": (
        r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7} ?([A-Z0-9]{1,4})"
        r"(?![A-Za-z0-9])"
    ),
    "card_number": (
        # 13-19 digits: contiguous, or in groups of four (Amex: 4-6-5) with spaces or dashes
        r"(?<![0-9])(?:[0-9]{9,15}([0-9]{4})"
        r"|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -]?[0-9]{0,3}([0-9]{4})"
        r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]([0-9]{4}))(?![0-9])"
    ),
    "us_ssn": (
        r"(?<![0-9-])(?!000|666|9[0-9][0-9])[0-9]{3}-(?!00)[0-9]{2}-(?!0000)([0-9]{4})"
        r"(?![0-9-])"
    ),
    "phone": (
        # E.164 numbers written with a leading +: 8 to 15 digits, spaces, dots, dashes, parens
        r"(?<![A-Za-z0-9+])\+[1-9](?:[ .-]?\(?[0-9]\)?){5,12}[ .-]?([0-9]{2})(?![0-9])"
    ),
    "ipv6": (
        rf"(?<![0-9A-Fa-f:])(?:({_H}:{_H}:)(?:{_H}:){{5}}{_H}"
        rf"|({_H}:{_H}:)(?:{_H}:){{0,4}}:(?:{_H}(?::{_H}){{0,4}})?"
        rf"|({_H}::){_H}(?::{_H}){{1,5}})(?![0-9A-Fa-f:])"
    ),
    "ipv4": rf"(?<![0-9])(?<![0-9]\.)({_OCTET}\.{_OCTET}\.){_OCTET}\.{_OCTET}(?![0-9]|\.[0-9])",
}


class PiiRule(NamedTuple):
    """How a PII pattern masks: ``mask`` is ``"prefix"`` or ``"suffix"`` (module docstring),
    ``check`` names the validation a match must pass (``"luhn"``, ``"mod97"`` or None)."""

    mask: str
    check: str | None


PII_RULES: dict[str, PiiRule] = {
    "email": PiiRule("prefix", None),
    "iban": PiiRule("suffix", "mod97"),
    "card_number": PiiRule("suffix", "luhn"),
    "us_ssn": PiiRule("suffix", None),
    "phone": PiiRule("suffix", None),
    "ipv6": PiiRule("prefix", None),
    "ipv4": PiiRule("prefix", None),
}


def luhn_ok(digits: str) -> bool:
    """The Luhn check of payment card numbers.

    >>> luhn_ok("4242424242424242"), luhn_ok("4242424242424241")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


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


_CHECKS: dict[str, Callable[[str], bool]] = {
    "luhn": lambda text: luhn_ok(re.sub("[^0-9]", "", text)),
    "mod97": iban_ok,
}
_ALNUM = re.compile("[A-Za-z0-9]")


def _kept_group(match: re.Match[str]) -> int:
    idx = match.lastindex
    return idx if idx is not None else 0


def _replacer(name: str) -> Callable[[re.Match[str]], str]:
    rule = PII_RULES[name]
    check = _CHECKS[rule.check] if rule.check else None
    if rule.mask == "prefix":

        def prefix(match: re.Match[str]) -> str:
            idx = _kept_group(match)
            return match.string[match.start() : match.end(idx)] + MASK if idx else MASK

        return prefix

    def suffix(match: re.Match[str]) -> str:
        text = match.group(0)
        if check is not None and not check(text):
            return text
        idx = _kept_group(match)
        cut = match.start(idx) - match.start() if idx else len(text)
        return _ALNUM.sub("*", text[:cut]) + text[cut:]

    return suffix


# Cheap tests that reject text which cannot hold a match, so ordinary text costs a few
# C-level scans: a literal every match contains, or a short regex for digit runs.
_NEEDS: dict[str, Callable[[str], object]] = {
    "email": lambda t: "@" in t,
    "iban": re.compile("[A-Z]{2}[0-9]{2}").search,
    "card_number": re.compile("[0-9]{4}").search,
    "us_ssn": lambda t: "-" in t,
    "phone": lambda t: "+" in t,
    "ipv6": lambda t: ":" in t,
    "ipv4": lambda t: "." in t,
}


class PiiMasker:
    """The chosen PII patterns, applied in `PII_PATTERNS` order: ``masker(text)``."""

    __slots__ = ("steps",)

    def __init__(self, names: list[str]) -> None:
        self.steps = tuple(
            (_NEEDS[n], re.compile(PII_PATTERNS[n], re.ASCII).sub, _replacer(n))
            for n in PII_PATTERNS
            if n in names
        )

    def __call__(self, text: str) -> str:
        for needs, sub, repl in self.steps:
            if needs(text):
                text = sub(repl, text)
        return text


__all__ = ["MASK", "PII_PATTERNS", "PII_RULES", "PiiMasker", "PiiRule", "iban_ok", "luhn_ok"]
