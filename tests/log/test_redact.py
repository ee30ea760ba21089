"""Redaction rules: built-in patterns, the config (typos refused), secret field names at any
depth, secret values masked wherever they recur, and portable pattern text."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from laketrace.errors import ConfigError
from laketrace.log.redact import (
    BUILTIN_PATTERNS,
    SECRET_PATTERNS,
    _builtin_repl,
    builtin_patterns,
    compile_redactor,
    is_secret_name,
)

from ..conftest import spool_records

SECRETS = [
    ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc", "Bearer ***", "eyJhbGciOi"),
    ("token dapi0123456789abcdef0123456789abcdef-2 used", "token *** used", "dapi0123"),
    ("https://acct.blob.core.windows.net/c?sv=2024&sig=AbC%2Fd%3D&se=x", "sig=***&se=x", "AbC%2F"),
    ("password=hunter2 user=bob", "password=*** user=bob", "hunter2"),
    ('{"client_secret": "s3cr3t"}', '"client_secret": "***"', "s3cr3t"),
    ("AccountKey=abc123==;EndpointSuffix=core", "AccountKey=***;", "abc123"),
]


@pytest.mark.parametrize(("text", "masked", "secret"), SECRETS)
def test_builtin_patterns(text, masked, secret):
    """Built-in patterns mask bearer tokens, dapi tokens, SAS sig, passwords and keys."""
    out = compile_redactor(True)(text)
    assert masked in out and secret not in out


SAS_SPELLINGS = [
    ("https://a.blob/c?sv=1&amp;sig=SIGabc%2Fdef&amp;se=2", "&amp;sig=***&amp;se=2"),
    ("https%3A%2F%2Fa.blob%2Fc%3Fsv%3D1%26sig%3DSIGabc%2Fdef%26se%3D2", "%26sig%3D***%26se%3D2"),
    ('{"url": "https://a.blob/c?sv=1\\u0026sig=SIGabc%2Fdef\\u0026se=2"}', "\\u0026sig=***"),
    ("SharedAccessSignature=sv=1&SIG=SIGabc%2Fdef&se=2", "SIG=***&se=2"),
    ("https://b.s3/k?X-Amz-Signature=SIGabc123def&X-Amz-Date=1", "X-Amz-Signature=***&X-Amz"),
    ("https://g.storage/k?X-Goog-Signature=SIGabc123def", "X-Goog-Signature=***"),
]


@pytest.mark.parametrize(("text", "masked"), SAS_SPELLINGS)
def test_sas_signature_spellings(text, masked):
    """SAS ``sig`` (plain, ``&amp;``-escaped, URL-encoded, JSON-escaped) and URL signatures."""
    out = compile_redactor(True)(text)
    assert masked in out and "SIGabc" not in out


NEW_PATTERNS = [
    ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic ***"),
    ('{"authorization": "Basic dXNlcjpodW50ZXIy"}', '"authorization": "Basic ***"'),
    ("Proxy-Authorization: dXNlcjpodW50ZXIy", "Proxy-Authorization: ***"),
    ("sent Basic dXNlcjpodW50ZXIy to host", "sent Basic *** to host"),
    ("https://bob:hunter2@db.example.com/x", "https://bob:***@db.example.com/x"),
    ("abfss://bob:hunter2@acct.dfs.core.windows.net/t", "abfss://bob:***@acct.dfs.core"),
    ("jdbc:mysql://bob:hunter2@h:3306/db", "jdbc:mysql://bob:***@h:3306/db"),
    ("jdbc:oracle:thin:scott/hunter2@h:1521/svc", "jdbc:oracle:thin:scott/***@h:1521/svc"),
    ("jdbc:sqlserver://h:1433;user=bob;password=hunter2;db=x", "user=bob;password=***;db=x"),
    ("Server=h;Uid=bob;Pwd=hunter2;", "Uid=bob;Pwd=***;"),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    ("x-api-key: hunter2 sent", "x-api-key: *** sent"),
    ("-----BEGIN PRIVATE KEY-----hunter2-----END PRIVATE KEY-----", "KEY-----***-----END"),
    ("jwt eyJhbGciOiJub25lIn0.eyJzdWIiOiJodW50ZXIyIn0.c2lnbmF0dXJl", "jwt ***"),
]


@pytest.mark.parametrize(("text", "masked"), NEW_PATTERNS)
def test_auth_headers_and_url_credentials_mask_the_secret_part_only(text, masked):
    """Basic-auth headers, credentials in URLs and JDBC strings lose only their secret part."""
    out = compile_redactor(True)(text)
    assert masked in out
    assert "hunter2" not in out and "dXNlcjpodW50ZXIy" not in out and "ZXIyIn0" not in out


QUOTED = [
    ('{\\"password\\": \\"hunter2 x\\"}', '{\\"password\\": \\"***\\"}'),
    ('{"password": "hunter2 \\"x\\" y", "u": 1}', '{"password": "***", "u": 1}'),
    ("&quot;password&quot;: &quot;hunter2 x&quot;", "&quot;password&quot;: &quot;***&quot;"),
    ("password='hunter2 x' user='bob'", "password='***' user='bob'"),
    ("{'Authorization': 'Bearer hunter2'}", "{'Authorization': 'Bearer ***'}"),
]


@pytest.mark.parametrize(("text", "expected"), QUOTED)
def test_quoted_values_are_masked_whole(text, expected):
    """Quoted values (JSON, escaped JSON in JSON, HTML ``&quot;``, Python repr) lose all of it."""
    assert compile_redactor(True)(text) == expected


KEPT = [
    "abfss://container@acct.dfs.core.windows.net/tables/t",
    "wasbs://container@acct.blob.core.windows.net/x",
    "https://host:8080/path?x=1 mail me@example.com",
    "Basic Settings are in the Basic settings page",
    "max_tokens=512 prompt_tokens: 40",
    "loaded 3 rows into sales",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_left_alone(text):
    """Container URLs, ports, the word 'Basic' and token counts are not secrets."""
    assert compile_redactor(True)(text) == text


def test_user_regex_masks_group_or_match():
    """A user regex masks its first group when it has one, else the whole match."""
    r = compile_redactor([r"card=(\d+)", r"\bSSN-\d{3}\b"])
    assert r("card=4111 and SSN-123") == "card=*** and ***"


def test_builtin_names_select_patterns():
    """Built-in pattern names can be listed individually."""
    r = compile_redactor(["bearer"])
    assert r("Bearer x password=y") == "Bearer *** password=y"


def test_compiled_pattern_masks_a_literal_word():
    """A compiled ``re.Pattern`` is taken as a regex even without metacharacters."""
    assert compile_redactor([re.compile("hunter2")])("pw hunter2") == "pw ***"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("databrick_token", "databricks_token"), ("bearr", "bearer"), ("basicauth", "basic_auth")],
)
def test_pattern_name_typo_is_a_config_error_with_a_suggestion(typo, suggestion):
    """A string without regex metacharacters must be a built-in name; a typo names the fix."""
    with pytest.raises(ConfigError) as err:
        compile_redactor([typo])
    text = str(err.value)
    assert "'redact'" in text and repr(typo) in text and f"Did you mean {suggestion!r}" in text
    assert "url_credentials" in text  # the built-in names are listed


def test_literal_word_is_refused_with_the_ways_to_write_it():
    """``redact=["hunter2"]`` is refused: the error shows the regex and re.compile forms."""
    with pytest.raises(ConfigError, match=r"re\.compile\('hunter2'\)"):
        compile_redactor(["hunter2"])
    assert compile_redactor([r"\bhunter2\b"])("pw hunter2") == "pw ***"


def test_typo_fails_get_logger(make_logger):
    """get_logger refuses the typo at config time instead of logging unprotected."""
    with pytest.raises(ConfigError, match="databricks_token"):
        make_logger(redact=["databrick_token"])


def test_invalid_regex_is_a_config_error():
    """A string that looks like a regex but does not compile is a ConfigError."""
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        compile_redactor(["(unclosed"])


def test_redactor_pickles_as_its_config():
    """A redactor travels to executors by its config and masks the same there."""
    r = compile_redactor(["bearer", r"card=(\d+)"])
    assert r is not None
    copy = pickle.loads(pickle.dumps(r))
    text = "Bearer abc card=4111 password=x"
    assert copy(text) == r(text) == "Bearer *** card=*** password=x"


SECRET_NAMES = [
    "password",
    "PASSWORD",
    "Password",
    "db_password",
    "passwd",
    "token",
    "refresh_token",
    "accessToken",
    "secret",
    "client_secret",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "AccountKey",
    "access_key",
    "SharedAccessKey",
    "Ocp-Apim-Subscription-Key",
    "sas",
    "sas_token",
    "sig",
    "Authorization",
    "cookie",
    "credentials",
    "private_key",
    "pwd",
]
PLAIN_NAMES = ["user", "table", "max_tokens", "tokenizer", "key", "rows", "host", "signal"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_field_names(name):
    """Names of secrets are recognised whatever their case and separators."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_field_names(name):
    """Ordinary names (including token counts) are not treated as secrets."""
    assert not is_secret_name(name)


@pytest.mark.parametrize("name", ["password", "PASSWORD", "Password", "AccountKey", "sig"])
@pytest.mark.parametrize("where", ["call", "bound", "contextualize"])
def test_secret_named_fields_are_masked_whatever_their_value(make_logger, log_dir, name, where):
    """A field named like a secret is masked in call, bound and contextualized fields."""
    log = make_logger(redact=True)
    value = {"db": "hunter2-value"} if name == "sig" else "hunter2-value"
    if where == "call":
        log.info("x", **{name: value})
    elif where == "bound":
        log.bind(**{name: value}).info("x")
    else:
        with log.contextualize(**{name: value}):
            log.info("x")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["context"] == {name: "***"}


NESTED = [
    ({"db": {"password": "hunter2-value", "host": "h"}}, {"db": {"password": "***", "host": "h"}}),
    ([{"token": "hunter2-value"}, {"user": "bob"}], [{"token": "***"}, {"user": "bob"}]),
    ({"a": [{"b": {"Api_Key": ["hunter2-value"]}}]}, {"a": [{"b": {"Api_Key": "***"}}]}),
    ({"l1": {"l2": {"l3": {"l4": {"l5": {"secret": "hunter2-value"}}}}}}, None),
]


@pytest.mark.parametrize(("value", "expected"), NESTED)
def test_secret_names_are_masked_at_any_depth(make_logger, log_dir, value, expected):
    """Secret-named keys inside dicts and lists of dicts are masked; the caller's object is not."""
    log = make_logger(redact=True)
    before = json.dumps(value)
    log.info("x", data=value)
    log.close()
    (rec,) = spool_records(log_dir)
    assert "hunter2" not in rec["context"]["data"]
    if expected is not None:
        assert json.loads(rec["context"]["data"]) == expected
    assert json.dumps(value) == before  # the application's own data is untouched


def test_shared_and_cyclic_structures_stay_cheap(make_logger, log_dir):
    """Shared lists beyond the walk budget and a cycle are masked without walking forever."""
    log = make_logger(redact=True)
    node: list = [{"password": "hunter2-value"}]
    for _ in range(15):  # 32768 paths to the secret: more than the walk visits
        node = [node, node]
    cyclic: dict = {"token": "hunter2-value"}
    cyclic["self"] = cyclic
    log.info("x", dag=node, cyclic=cyclic)
    log.close()
    (rec,) = spool_records(log_dir)
    assert "hunter2" not in json.dumps(rec)


def test_secret_values_are_masked_where_they_recur(make_logger, log_dir):
    """The value of a secret field is masked in the message and in other fields too."""
    log = make_logger(redact=True)
    log.info("login with {password}", password="pw-4711-x", conn="host=h;pw-4711-x", short="ab")
    log.close()
    (rec,) = spool_records(log_dir)
    assert "pw-4711-x" not in json.dumps(rec)
    assert rec["msg"] == "login with ***"
    assert rec["context"] == {"password": "***", "conn": "host=h;***", "short": "ab"}


def test_redaction_off_by_default(make_logger, log_dir):
    """Without redact config, messages and fields are written unchanged."""
    log = make_logger()
    log.info("password=visible", password="visible")
    log.close()
    (rec,) = spool_records(log_dir)
    assert rec["msg"] == "password=visible" and rec["context"] == {"password": "visible"}


FORBIDDEN_SYNTAX = ["(?P", "(?#", "(?(", "\\Z", "(?L", "(?a", "(?u", "(?x", "(?s", "(?m", "\\d"]


def test_builtin_patterns_are_plain_portable_strings():
    """`builtin_patterns()` is JSON-serialisable, compiles, and avoids Python-only syntax."""
    pats = builtin_patterns()
    assert pats == BUILTIN_PATTERNS and pats is not BUILTIN_PATTERNS
    assert json.loads(json.dumps(pats)) == pats
    for name, pattern in pats.items():
        assert re.compile(pattern).groups >= 1, name
        assert "\n" not in pattern, name
        for bad in FORBIDDEN_SYNTAX:
            assert bad not in pattern, (name, bad)


_JAVA_MASK = r"""
import java.nio.file.*; import java.util.*; import java.util.regex.*;
public class Mask {
  public static void main(String[] a) throws Exception {
    StringBuilder all = new StringBuilder();
    for (String p : Files.readAllLines(Path.of(a[0]))) {
      Pattern.compile(p);
      all.append(all.length() > 0 ? "|" : "").append("(?:").append(p).append(")");
    }
    Pattern c = Pattern.compile(all.toString());
    for (String s : Files.readAllLines(Path.of(a[1]))) {
      Matcher m = c.matcher(s); StringBuilder out = new StringBuilder(); int last = 0;
      while (m.find()) {
        int keep = m.start();
        for (int i = 1; i <= m.groupCount(); i++)
          if (m.group(i) != null) { keep = m.end(i); break; }
        out.append(s, last, keep).append("***"); last = m.end();
      }
      System.out.println(out.append(s.substring(last)));
    }
  }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no JVM on this machine")
def test_builtin_patterns_mask_the_same_in_java(tmp_path):
    """java.util.regex compiles every secret pattern and masks the samples exactly as Python
    (the PII patterns have their own check in test_pii.py)."""
    samples = [t for t, *_ in SECRETS] + [t for t, _ in SAS_SPELLINGS + NEW_PATTERNS + QUOTED]
    samples += KEPT
    secret = [p for n, p in builtin_patterns().items() if n in SECRET_PATTERNS]
    (tmp_path / "patterns.txt").write_text("\n".join(secret) + "\n")
    (tmp_path / "samples.txt").write_text("\n".join(samples) + "\n")
    (tmp_path / "Mask.java").write_text(_JAVA_MASK)
    proc = subprocess.run(
        ["java", str(tmp_path / "Mask.java"), str(tmp_path / "patterns.txt"),
         str(tmp_path / "samples.txt")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    redact = compile_redactor(True)
    assert redact is not None
    assert proc.stdout.splitlines() == [redact(s) for s in samples]


_FRAGMENTS = [
    "password", "PASSWD", "pwd", "secret", "Token", "api_key", "access-key", "AccountKey=",
    "SharedAccessKey=", "Bearer ", "basic ", "Basic ", "dXNlcjpwYXNz", "dapi", "0123456789abcdef",
    "sig", "Signature", "%26", "%3F", "%3D", "\\u0026", "&amp;", "&quot;", "authorization",
    "Proxy-", "://", "jdbc:oracle:thin:", "eyJ", "abcdefgh", "-----BEGIN ", "PRIVATE KEY-----",
    "-----END", "=", ":", "@", "/", "\\\"", '"', "'", " ", "\n", ";", "&", ",", "x", "Zé", "İ",
    "\u212a", "\u017f", "\\u0026sig=v1", "%26sig%3Dv2", "%3Fsig=v3", "Proxy-Authorization: v4",
    "pa\u017f\u017fword=v5", "to\u212aen=v6", "x-api-key: v7", "https://u:v8@h",
    "eyJabcdefgh.eyJabcdefgh.s",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map("".join))
@example("a\\u0026sig=v1")
@example("a%26sig%3Dv2&b")
@example("Proxy-Authorization: v4")
@example("pa\u017f\u017fword=v5 to\u212aen=v6")
def test_trigger_anchored_masking_equals_plain_substitution(text):
    """Trying the built-ins only at trigger literals gives exactly ``re.sub``'s result."""
    redact = compile_redactor(True)
    assert redact is not None and redact._builtin is not None
    plain = redact._builtin.pattern.sub(_builtin_repl, text)
    assert redact._builtin.sub(text) == plain
