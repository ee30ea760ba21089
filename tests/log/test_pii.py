"""PII masking: the built-in PII patterns and their hints, the checks that keep ordinary
numbers, where masking applies (messages, fields, exceptions, tracebacks), the fast path
equal to the general one, and the same masks from java.util.regex."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import laketrace
from laketrace.log.pii import (
    PII_PATTERNS,
    PII_RULES,
    PiiMasker,
    _email_sub,
    _replacer,
    iban_ok,
    luhn_ok,
)
from laketrace.log.redact import BUILTIN_PATTERNS, builtin_masks, builtin_patterns, compile_redactor

from ..conftest import spool_records

MASKED = [
    ("mail john.doe@example.com now", "mail j***@example.com now"),
    ("to: a.b+tag@sub.example.co.uk.", "to: a***@sub.example.co.uk."),
    ("card 4242 4242 4242 4242 ok", "card **** **** **** 4242 ok"),
    ("card 4242-4242-4242-4242", "card ****-****-****-4242"),
    ("pan=4111111111111111;", "pan=************1111;"),
    ("amex 3782 822463 10005", "amex **** ****** *0005"),
    ("ssn 123-45-6789.", "ssn ***-**-6789."),
    ("iban DE89 3704 0044 0532 0130 00 EUR", "iban **** **** **** **** **** 00 EUR"),
    ("GB82WEST12345698765432", "********************32"),
    ("from 192.168.10.7.", "from 192.168.***."),
    ("peer 2001:db8:0:1::7 up", "peer 2001:db8:*** up"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:***"),
    ("fe80::1ff:fe23:4567:890a", "fe80::***"),
    ("call +44 20 7946 0958 now", "call +** ** **** **58 now"),
    ("+1 (415) 555-2671", "+* (***) ***-**71"),
    ("mapped ::ffff:10.1.2.3", "mapped ::ffff:10.1.***"),
]
KEPT = [
    "order 4242424242424241 shipped",  # fails the Luhn check
    "loaded 1234567890123 rows",  # 13 digits, not a card number
    "ids 666-45-6789 000-12-3456 123-00-4567 123-45-0000 912-34-5678",  # not SSNs
    "ref DE88 3704 0044 0532 0130 00",  # fails the IBAN check
    "bad ip 300.1.2.3 and 1.2.3.4.5",
    "at 12:30:45 on 2026-11-28, version 3.5.1",
    "mac 00:1a:2b:3c:4d:5e and std::vector",
    "abfss://container@acct.dfs.core.windows.net/tables/t",
    "user@localhost and 3+4567890",
    "loaded 12345 rows into sales",
]


@pytest.mark.parametrize(("text", "masked"), MASKED)
def test_pii_is_masked_with_a_hint(text, masked):
    """Each PII kind is masked and keeps a hint (first letter, last digits, network part)."""
    assert compile_redactor(["pii"])(text) == masked


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_and_urls_are_kept(text):
    """Numbers that fail their check, times, versions, MACs and storage URLs stay as written."""
    assert compile_redactor(["pii"])(text) == text


@pytest.mark.parametrize("name", sorted(PII_PATTERNS))
def test_each_pii_name_selects_its_pattern_only(name):
    """A PII name in ``redact`` masks that kind and leaves the others."""
    redact = compile_redactor([name])
    hits = [text for text, masked in MASKED if redact(text) == masked]
    others = [text for text, masked in MASKED if redact(text) == text]
    assert hits and len(hits) + len(others) == len(MASKED)


def test_pii_group_and_builtin_group_are_separate():
    """``True``/``"builtin"`` select the secret patterns, ``"pii"`` the PII patterns."""
    text = "password=hunter2 mail john@example.com"
    assert compile_redactor(True)(text) == "password=*** mail john@example.com"
    assert compile_redactor(["pii"])(text) == "password=hunter2 mail j***@example.com"
    assert compile_redactor(["builtin", "pii"])(text) == "password=*** mail j***@example.com"


def test_pii_name_typo_suggests_the_name():
    """A misspelt PII name is a ConfigError suggesting the right one."""
    with pytest.raises(laketrace.ConfigError, match="Did you mean 'card_number'"):
        compile_redactor(["card_numbr"])


def test_checks():
    """Luhn and IBAN mod-97 checks accept valid numbers and refuse altered ones."""
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424243")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert not iban_ok("DE89")


def test_builtin_patterns_and_masks_describe_every_pattern():
    """builtin_patterns() and builtin_masks() cover the same names and are JSON data."""
    assert set(builtin_patterns()) == set(BUILTIN_PATTERNS) == set(builtin_masks())
    assert json.loads(json.dumps(builtin_masks())) == builtin_masks()
    for name in PII_PATTERNS:
        assert builtin_masks()[name] == PII_RULES[name]._asdict()


_FRAGMENTS = [
    "john", ".", "@", "example.com", "x", " ", "-", "+", "4242", "4242 ", "1", "12", "123",
    "45", "6789", ":", "::", "db8", "fe80", "DE89", "3704", "0044", "(", ")", "\n", "/",
    "255", "10.", "a", "Z", "0", "a.b@c.io", "%", "_", "q" * 64,
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=24).map("".join))
def test_pre_checks_and_joined_masking_change_nothing(text):
    """Skipping patterns by their cheap pre-checks, and masking several texts joined, give
    exactly what each pattern's plain ``re.sub`` gives, text by text."""
    masker = PiiMasker(list(PII_PATTERNS))
    plain = text
    for name in PII_PATTERNS:
        plain = re.compile(PII_PATTERNS[name], re.ASCII).sub(_replacer(name), plain)
    assert masker(text) == plain
    parts = [text, "x " + text, text[::-1]]
    assert masker.many(parts) == [masker(p) for p in parts]


_EMAIL_FRAGMENTS = [
    "a", "Z", "9", ".", "_", "%", "+", "-", "/", "@", "@@", " ", "\x00", "\n", "b.co",
    "x-y.org", "-x.com", "c", "ab" * 20, "q" * 63, "é", ":", "=",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_EMAIL_FRAGMENTS), max_size=30).map("".join))
def test_email_found_from_each_at_sign_is_the_regex_sub(text):
    """The e-mail step, which looks back from each ``@``, masks exactly what ``re.sub`` of
    the portable e-mail pattern with its prefix mask does (runs over 64, ``/``, domains)."""
    pattern = re.compile(PII_PATTERNS["email"], re.ASCII)
    assert _email_sub(None, text) == pattern.sub(_replacer("email"), text)


def test_luhn_matches_the_textbook_loop():
    """luhn_ok agrees with the digit-by-digit Luhn loop on every length from 1 to 19."""

    def textbook(digits: str) -> bool:
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        return total % 10 == 0

    for n in range(1, 20):
        for start in range(0, 10**n, max(1, 10**n // 997)):
            digits = str(start).zfill(n)
            assert luhn_ok(digits) == textbook(digits), digits


def _pii_logger(make_logger, **config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make_logger(mask_pii=True, **config)


def test_pii_masked_in_messages_fields_exceptions_and_tracebacks(make_logger, log_dir):
    """With mask_pii, the message, fields (nested too), exception message and traceback are
    masked in the spool."""
    log = _pii_logger(make_logger)
    try:
        raise ValueError("no account for jane@example.org")
    except ValueError:
        log.exception(
            "login of john.doe@example.com from 10.20.30.40",
            card="4242 4242 4242 4242",
            nested={"ips": ["192.168.1.1"], "n": 5},
        )
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["msg"] == "login of j***@example.com from 10.20.***"
    assert rec["context"]["card"] == "**** **** **** 4242"
    assert json.loads(rec["context"]["nested"]) == {"ips": ["192.168.***"], "n": 5}
    assert rec["exception"]["msg"] == "no account for j***@example.org"
    assert "jane@" not in rec["traceback"] and "j***@example.org" in rec["traceback"]


@pytest.mark.parametrize("enqueue", [False, True])
def test_masking_fast_path_writes_what_the_general_path_writes(make_logger, log_dir, enqueue):
    """A masked call through the spool-only fast path gives the same line as through the
    general path (an extra handler forces it), apart from ids and times."""
    from laketrace.testing import capture_records

    log = make_logger(redact=["builtin", "pii"], enqueue=enqueue)
    assert (log._core.masked_queue if enqueue else log._core.masked_fast) is not None
    bound = log.bind(request="r1", who="ann@example.com")
    call = dict(n=12345, ip="10.0.0.7", flag=True, none=None, ratio=0.5, password="hunter2pw")
    bound.info("paid 4242 4242 4242 4242 from 10.0.0.7 pw hunter2pw", **call)
    with capture_records():
        bound.info("paid 4242 4242 4242 4242 from 10.0.0.7 pw hunter2pw", **call)
    bound.info("ordinary {} rows", 5, table="sales")
    with capture_records():
        bound.info("ordinary {} rows", 5, table="sales")
    log.close()
    recs = spool_records(log_dir)
    keep = ("msg", "context", "level", "logger", "thread_name", "module", "function")
    fast, general, plain_fast, plain_general = ({k: r[k] for k in keep} for r in recs)
    assert fast == general and plain_fast == plain_general
    assert "hunter2pw" not in json.dumps(recs) and "ann@" not in json.dumps(recs)
    assert fast["context"]["who"] == "a***@example.com" and fast["context"]["n"] == "12345"


def test_mask_pii_helper_recurses_into_mappings_and_lists():
    """laketrace.mask_pii masks a text, or every text inside mappings, lists and tuples."""
    data = {"user": "john@example.com", "n": 4242424242424242, "x": [("ip 10.1.2.3",)]}
    assert laketrace.mask_pii("card 4242 4242 4242 4242") == "card **** **** **** 4242"
    assert laketrace.mask_pii(data) == {
        "user": "j***@example.com",
        "n": 4242424242424242,
        "x": [("ip 10.1.***",)],
    }
    assert data["user"] == "john@example.com"  # the input is not changed


_JAVA_PII = r"""
import java.math.BigInteger; import java.nio.file.*; import java.util.*; import java.util.regex.*;
public class Pii {
  static boolean luhn(String s) {
    String d = s.replaceAll("[ -]", ""); int sum = 0;
    for (int i = 0; i < d.length(); i++) {
      int x = d.charAt(d.length() - 1 - i) - '0';
      if (i % 2 == 1) { x *= 2; if (x > 9) x -= 9; }
      sum += x;
    }
    return sum % 10 == 0;
  }
  static boolean mod97(String s) {
    String t = s.replace(" ", ""); if (t.length() < 15 || t.length() > 34) return false;
    String m = t.substring(4) + t.substring(0, 4); StringBuilder n = new StringBuilder();
    for (char c : m.toCharArray()) n.append(Character.digit(c, 36));
    return new BigInteger(n.toString()).mod(BigInteger.valueOf(97)).intValue() == 1;
  }
  static boolean ipv4(String s) {
    for (String o : s.split("\\.")) if (Integer.parseInt(o) > 255) return false;
    return true;
  }
  public static void main(String[] a) throws Exception {
    List<String[]> rules = new ArrayList<>();
    for (String l : Files.readAllLines(Path.of(a[0]))) rules.add(l.split("\t", 3));
    for (String s : Files.readAllLines(Path.of(a[1]))) {
      for (String[] r : rules) {
        Matcher m = Pattern.compile(r[2]).matcher(s); StringBuilder b = new StringBuilder();
        int last = 0;
        while (m.find()) {
          String t = m.group(); int g = 0;
          for (int i = 1; i <= m.groupCount(); i++) if (m.group(i) != null) { g = i; break; }
          boolean ok = r[1].equals("-") || (r[1].equals("luhn") ? luhn(t)
              : r[1].equals("mod97") ? mod97(t) : ipv4(t));
          String rep = t;
          if (ok && r[0].equals("prefix"))
            rep = g > 0 ? s.substring(m.start(), m.end(g)) + "***" : "***";
          if (ok && r[0].equals("suffix")) {
            int cut = g > 0 ? m.start(g) - m.start() : t.length();
            rep = t.substring(0, cut).replaceAll("[A-Za-z0-9]", "*") + t.substring(cut);
          }
          b.append(s, last, m.start()).append(rep); last = m.end();
        }
        s = b.append(s.substring(last)).toString();
      }
      System.out.println(s);
    }
  }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no JVM on this machine")
def test_pii_masks_are_the_same_in_java(tmp_path):
    """java.util.regex with the documented rules (builtin_masks) masks the samples exactly
    as Python does: the patterns and the hint rule are portable to a JVM appender."""
    masks = builtin_masks()
    rules = [
        f"{masks[n]['mask']}\t{masks[n]['check'] or '-'}\t{p}"
        for n, p in builtin_patterns().items()
        if n in PII_PATTERNS
    ]
    samples = [t for t, _ in MASKED] + KEPT
    (tmp_path / "rules.txt").write_text("\n".join(rules) + "\n")
    (tmp_path / "samples.txt").write_text("\n".join(samples) + "\n")
    (tmp_path / "Pii.java").write_text(_JAVA_PII)
    proc = subprocess.run(
        ["java", str(tmp_path / "Pii.java"), str(tmp_path / "rules.txt"),
         str(tmp_path / "samples.txt")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    redact = compile_redactor(["pii"])
    assert proc.stdout.splitlines() == [redact(s) for s in samples]
