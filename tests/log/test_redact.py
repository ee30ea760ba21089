"""Redaction: secrets are masked in msg and context before any sink sees them."""

from __future__ import annotations

import pytest

from laketrace.log.redact import compile_redactor

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


def test_user_regex_masks_group_or_match():
    """A user regex masks its first group when it has one, else the whole match."""
    r = compile_redactor([r"card=(\d+)", r"\bSSN-\d{3}\b"])
    assert r("card=4111 and SSN-123") == "card=*** and ***"


def test_redaction_reaches_every_sink(make_logger, log_dir):
    """With redact on, neither the spool nor a stream sink ever sees the secret."""
    log = make_logger(redact=True)
    seen = []
    log.add_handler({"sink": seen.append, "serialize": True})
    log.bind(conn="AccountKey=abc123==;x").info(
        "calling with Bearer abc.def",
        headers={"Authorization": "Bearer abc.def"},
        password="password=hunter2",
    )
    log.close()
    (rec,) = spool_records(log_dir)
    blob = repr(rec) + "".join(seen)
    for secret in ("abc.def", "abc123", "hunter2"):
        assert secret not in blob
    assert rec["msg"] == "calling with Bearer ***"


def test_redaction_off_by_default(make_logger, log_dir):
    """Without redact config, messages are written unchanged."""
    log = make_logger()
    log.info("password=visible")
    log.close()
    assert spool_records(log_dir)[0]["msg"] == "password=visible"


def test_builtin_names_select_patterns():
    """Built-in pattern names can be listed individually."""
    r = compile_redactor(["bearer"])
    assert r("Bearer x password=y") == "Bearer *** password=y"
