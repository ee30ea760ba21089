"""storage_options: checking, CLI parsing, redaction and Fabric credential discovery."""

from __future__ import annotations

import base64
import json
import types

import pytest

import laketrace
from laketrace.cli.commands import main
from laketrace.errors import ConfigError, StorageError
from laketrace.log.config import parse_logger_config
from laketrace.storage import (
    REFRESH_MARGIN_S,
    check_storage_options,
    parse_option_args,
    redact_text,
    storage_for,
    store_errors,
)

ONELAKE = "abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Tables/app_logs"
SECRET = "c2VjcmV0LWtleS1vZi10aGUtYWNjb3VudA=="


def _jwt(exp: float, n: int = 0) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': exp, 'n': n})}.sig{n}"


class FakeNotebookutils:
    """``notebookutils`` as Fabric has it: ``credentials.getToken(audience)``."""

    def __init__(self, lifetime: float, clock: list[float]) -> None:
        self.calls: list[str] = []

        def get_token(audience: str) -> str:
            self.calls.append(audience)
            return _jwt(clock[0] + lifetime, len(self.calls))

        self.credentials = types.SimpleNamespace(getToken=get_token)


def test_options_must_be_a_dict_of_strings():
    """Non-dicts, non-string keys and non-string values are refused, naming the key only."""
    with pytest.raises(ConfigError, match="expected a dict of str to str"):
        check_storage_options(["account_key=x"])
    with pytest.raises(ConfigError, match="every key must be a non-empty string"):
        check_storage_options({1: "x"})
    with pytest.raises(ConfigError, match=r"'allow_http' must be a string.*'true'/'false'"):
        check_storage_options({"allow_http": True})
    with pytest.raises(ConfigError) as info:
        check_storage_options({"account_key": 12345678})
    assert "12345678" not in str(info.value)


def test_cli_pairs_parse_and_bad_pairs_say_how():
    """KEY=VALUE pairs parse (values may hold '='); a pair without '=' is a ConfigError."""
    opts = parse_option_args(["account_name=acct", f"account_key={SECRET}"])
    assert dict(opts) == {"account_name": "acct", "account_key": SECRET}
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        parse_option_args(["account_name"])
    with pytest.raises(ConfigError, match="is not KEY=VALUE") as info:
        parse_option_args([f"={SECRET}"])
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigError) as info:  # a key pasted without its name
        parse_option_args(["s3cr3t-key-value-0123"])
    assert "s3cr3t-key" not in str(info.value) and "'s3c...'" in str(info.value)


def test_repr_and_logger_config_show_keys_only():
    """Neither the options' repr nor the logger config's repr shows a value."""
    opts = check_storage_options({"account_name": "acct", "account_key": SECRET})
    assert SECRET not in repr(opts) and "account_key=***" in repr(opts)
    cfg = parse_logger_config(
        {"log_dir": None, "storage_options": {"account_key": SECRET}}, "local"
    )
    assert SECRET not in repr(cfg)
    assert dict(cfg.storage_options) == {"account_key": SECRET}


def test_logger_config_refuses_bad_options():
    """A bad logger 'storage_options' value fails at get_logger time, naming the key."""
    with pytest.raises(ConfigError, match="config 'storage_options'"):
        parse_logger_config({"log_dir": None, "storage_options": "account_key=x"}, "local")


def test_redaction_removes_secrets_colours_and_sas_signatures():
    """Secret values, ANSI colours, SAS ``sig=`` parts and JWTs are removed; names stay."""
    opts = {"account_name": "acct", "account_key": SECRET, "sas_token": "sv=1&sig=abcd"}
    text = f"\x1b[31mGET https://acct.blob/x?sv=1&sig=abcd failed, key {SECRET}\x1b[0m"
    out = redact_text(text, opts)
    assert SECRET not in out and "abcd" not in out and "\x1b" not in out
    jwt = _jwt(12345.0)
    assert jwt not in redact_text(f"token {jwt} expired", {})
    assert "acct" in out


def test_store_errors_name_account_and_container_without_secrets():
    """A store failure becomes one StorageError naming account and container, no secret."""
    uri = "abfss://logs@acct.dfs.core.windows.net/t"
    with pytest.raises(StorageError) as info:
        with store_errors(uri, {"account_key": SECRET}, doing="flush to"):
            raise OSError(f"403 Forbidden AuthorizationFailure with key {SECRET}")
    msg = str(info.value)
    assert "account 'acct'" in msg and "container 'logs'" in msg and "403" in msg
    assert SECRET not in msg and info.value.__cause__ is None
    assert info.value.__context__ is None  # the unredacted original is not reachable


def test_store_errors_leave_local_paths_and_bugs_alone():
    """Errors for local paths and programming errors pass through unchanged."""
    with pytest.raises(OSError, match="disk"):
        with store_errors("/data/t", {}, doing="flush to"):
            raise OSError("disk")
    with pytest.raises(TypeError):
        with store_errors("abfss://c@a.dfs.core.windows.net/t", {}, doing="flush to"):
            raise TypeError("bug")


def test_local_file_errors_of_a_remote_flush_stay_local():
    """A full local disk (spool, ledger, staging) during a remote flush is not a store error."""
    uri = "abfss://c@a.dfs.core.windows.net/t"
    with pytest.raises(OSError) as info:
        with store_errors(uri, {}, doing="flush to"):
            raise OSError(28, "No space left on device", "/spool/_laketrace/manifest.jsonl")
    assert not isinstance(info.value, StorageError) and info.value.filename.endswith(".jsonl")
    with pytest.raises(KeyError):
        with store_errors(uri, {}, doing="flush to"):
            raise KeyError("a bug")


def test_query_errors_met_while_scanning_are_masked():
    """A store error raised while DuckDB reads the files keeps its type, minus the secrets."""
    from laketrace.read.query import _masked_errors

    class ScanError(Exception):
        pass

    url = "https://a.blob.core.windows.net/c/part-0.parquet?sv=2024&sig=SECRETSIG%3D"
    with pytest.raises(ScanError) as info:
        with _masked_errors({"sas_token": "sv=2024&sig=SECRETSIG%3D"}):
            raise ScanError(f"HTTP 403 for {url}")
    assert "SECRETSIG" not in str(info.value) and "403" in str(info.value)
    assert info.value.__context__ is None
    with pytest.raises(ValueError, match="no secret here"):  # nothing to mask: as it was
        with _masked_errors(None):
            raise ValueError("no secret here")


def test_fabric_token_for_onelake_renewed_near_expiry():
    """On Fabric a OneLake URI gets a bearer token, fetched again only near its expiry."""
    now = [1000.0]
    nbu = FakeNotebookutils(lifetime=3600, clock=now)
    get = storage_for(ONELAKE, None, notebookutils=nbu, clock=lambda: now[0])
    assert get is not None
    first = get()
    assert first["use_fabric_endpoint"] == "true" and first["bearer_token"].endswith("sig1")
    now[0] += 3600 - REFRESH_MARGIN_S - 1
    assert get()["bearer_token"] == first["bearer_token"] and nbu.calls == ["storage"]
    now[0] += 2  # within the margin: a long flush gets a fresh token for its next batch
    assert get()["bearer_token"].endswith("sig2") and nbu.calls == ["storage", "storage"]


def test_unreadable_token_is_fetched_again_later():
    """A token whose expiry cannot be decoded is still used, and re-fetched after a while."""
    now, calls = [0.0], []
    nbu = types.SimpleNamespace(
        credentials=types.SimpleNamespace(getToken=lambda audience: calls.append(1) or "opaque")
    )
    get = storage_for(ONELAKE, {}, notebookutils=nbu, clock=lambda: now[0])
    assert get is not None and get()["bearer_token"] == "opaque"
    get()
    assert len(calls) == 1
    now[0] += 3600
    get()
    assert len(calls) == 2


def test_explicit_credentials_win_over_discovery():
    """Explicit credentials are used as given; other explicit keys overlay the token."""
    now = [0.0]
    nbu = FakeNotebookutils(lifetime=3600, clock=now)
    get = storage_for(ONELAKE, {"bearer_token": "mine"}, notebookutils=nbu)
    assert get is not None and get() == {"bearer_token": "mine"} and nbu.calls == []
    get = storage_for(ONELAKE, {"timeout": "120s"}, notebookutils=nbu, clock=lambda: 0.0)
    assert get is not None and get()["timeout"] == "120s" and "bearer_token" in get()


def test_no_discovery_off_fabric_or_off_onelake():
    """Without notebookutils, or for a non-OneLake URI, nothing is discovered."""
    nbu = FakeNotebookutils(lifetime=3600, clock=[0.0])
    assert storage_for("abfss://c@acct.dfs.core.windows.net/t", None, notebookutils=nbu) is None
    assert storage_for("/lakehouse/default/Tables/t", None, notebookutils=nbu) is None
    assert nbu.calls == []


def test_cli_reports_a_malformed_storage_option(capsys, tmp_path):
    """`laketrace flush --storage-option oops` exits 2 with a message saying the form."""
    rc = main(["flush", "--log-dir", str(tmp_path), "--storage-option", "oops"])
    assert rc == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_flush_refuses_bad_options_before_touching_the_spool(tmp_path):
    """flush_to_delta with a non-string option value fails with a ConfigError, shipping
    nothing and writing no ledger."""
    spool = tmp_path / "spool"
    spool.mkdir()
    with pytest.raises(ConfigError, match=r"flush_to_delta: storage_options.*'timeout'"):
        laketrace.flush_to_delta(
            log_dir=str(spool), path=str(tmp_path / "t"), storage_options={"timeout": 30}
        )
    assert list(spool.iterdir()) == []
