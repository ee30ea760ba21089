"""Object-store credentials for delta-rs: ``storage_options``, checked, discovered, redacted.

``storage_options`` is the dict delta-rs (object_store) takes to reach a remote table:
``{"account_name": ..., "account_key": ...}``, ``{"sas_token": ...}``,
``{"bearer_token": ..., "use_fabric_endpoint": "true"}``, ``{"aws_region": ...}`` and so
on. Its values hold keys and tokens, so LakeTrace never prints them: the mapping's repr
shows only the keys, and errors from the store are rewritten by `store_errors` into one
message that names the account and container with every secret value removed.

On Fabric a OneLake URL (``abfss://...@onelake.dfs.fabric.microsoft.com/...``) needs no
options: `storage_for` takes a bearer token from ``notebookutils.credentials.getToken
("storage")`` and fetches a new one when the current one is within five minutes of its
expiry (the JWT's ``exp``), so a long flush keeps working. Explicit credentials always win.

>>> opts = check_storage_options({"account_name": "acct", "account_key": "s3cr3t=="})
>>> opts
StorageOptions(account_name=***, account_key=***)
>>> redact_text("refused key s3cr3t==", opts)
'refused key ***'
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .errors import ConfigError, LakeTraceError, StorageError, raise_clean

__all__ = [
    "StorageOptions",
    "check_storage_options",
    "parse_option_args",
    "redact_text",
    "storage_for",
    "store_errors",
]

_FORMS = (
    "a dict of str to str, e.g. {'account_name': 'myacct', 'account_key': '...'} or "
    "{'bearer_token': '...', 'use_fabric_endpoint': 'true'} (delta-rs / object_store keys)"
)
#: keys whose values are secrets whatever their length (object_store spellings and aliases)
_SECRET_KEY = re.compile(r"key|token|secret|sas|password|signature|credential|session", re.I)
#: any key that supplies a credential: when one is given, nothing is discovered
_CREDENTIAL_KEY = re.compile(
    r"key|token|secret|sas|password|credential|use_emulator|client_id|msi|identity|"
    r"use_azure_cli|federated|profile",
    re.I,
)
_ONELAKE_HOST = re.compile(r"@onelake\.(dfs|blob)\.fabric\.microsoft\.com", re.I)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SAS_SIG = re.compile(r"(sig=)[^&\s\"']+", re.I)
#: a JWT anywhere in a message (e.g. a discovered Fabric token, which no option names)
_JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*")
REDACTED = "***"
#: fetch a new Fabric token when the current one expires within this many seconds
REFRESH_MARGIN_S = 300.0
#: a token whose expiry cannot be read is fetched again after this long
_UNKNOWN_LIFETIME_S = 600.0


class StorageOptions(Mapping[str, str]):
    """A read-only ``storage_options`` mapping whose repr shows keys only.

    >>> StorageOptions({"sas_token": "sv=2024&sig=abc"})
    StorageOptions(sas_token=***)
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "StorageOptions(" + ", ".join(f"{k}={REDACTED}" for k in self._data) + ")"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (StorageOptions, (self._data,))


def check_storage_options(value: object, *, what: str = "storage_options") -> StorageOptions:
    """``value`` as `StorageOptions` if it is a dict of str to str (None: empty), else
    `ConfigError` naming the offending key (never its value).

    >>> check_storage_options(None)
    StorageOptions()
    """
    if value is None:
        return StorageOptions()
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{what}: expected {_FORMS}; got a {type(value).__name__}. Pass a dict (on the "
            "command line: --storage-option KEY=VALUE, repeated)."
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{what}: every key must be a non-empty string, got {key!r}.")
        if not isinstance(item, str):
            hint = " (write booleans as 'true'/'false')" if isinstance(item, bool) else ""
            raise ConfigError(
                f"{what}: the value of {key!r} must be a string, got a "
                f"{type(item).__name__}{hint}. delta-rs takes every option as text."
            )
    return StorageOptions({k.strip(): v for k, v in value.items()})


def parse_option_args(items: list[str] | None) -> StorageOptions:
    """``["KEY=VALUE", ...]`` (the CLI's repeated ``--storage-option``) as `StorageOptions`.

    >>> parse_option_args(["account_name=acct", "allow_http=true"])
    StorageOptions(account_name=***, allow_http=***)
    """
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # an item without "=" may be a bare secret pasted alone: never echo it whole
            shown = (item[:3] + "..." if len(item) > 6 else "...") if not sep else "=" + REDACTED
            raise ConfigError(
                f"--storage-option {shown!r} is not KEY=VALUE. Give one option per flag, e.g. "
                "--storage-option account_name=myacct --storage-option account_key=..."
            )
        out[key.strip()] = value
    return StorageOptions(out)


def _secrets(options: Mapping[str, str]) -> list[str]:
    vals = [v for k, v in options.items() if _SECRET_KEY.search(k) and len(v) >= 4]
    vals += [v for v in options.values() if len(v) >= 24]
    return sorted(set(vals), key=len, reverse=True)


def redact_text(text: str, options: Mapping[str, str] | None) -> str:
    """``text`` without ANSI colours, SAS signatures, JWTs and the secret values of
    ``options``."""
    out = _JWT.sub(REDACTED, _SAS_SIG.sub(r"\1" + REDACTED, _ANSI.sub("", text)))
    for value in _secrets(options or {}):
        out = out.replace(value, REDACTED)
    return out


def is_onelake(uri: str) -> bool:
    """Whether ``uri`` is a OneLake location (``abfss://<ws>@onelake.dfs.fabric...``)."""
    return bool(_ONELAKE_HOST.search(uri))


def _jwt_expiry(token: str) -> float | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except Exception:
        return None


def _notebookutils() -> Any:
    mod = sys.modules.get("notebookutils")
    if mod is None:
        try:
            import notebookutils as mod  # type: ignore[import-not-found,no-redef]
        except Exception:
            return None
    return mod


class FabricToken:
    """Bearer-token options for OneLake from ``notebookutils``, fetched again near expiry."""

    def __init__(self, get_token: Callable[[str], str], clock: Callable[[], float]) -> None:
        self._get = get_token
        self._clock = clock
        self._token = ""
        self._renew_at = float("-inf")

    def __call__(self) -> dict[str, str]:
        now = self._clock()
        if now >= self._renew_at:
            token = str(self._get("storage"))
            exp = _jwt_expiry(token)
            self._token = token
            self._renew_at = (
                exp - REFRESH_MARGIN_S if exp is not None else now + _UNKNOWN_LIFETIME_S
            )
        return {"bearer_token": self._token, "use_fabric_endpoint": "true"}


def storage_for(
    uri: str,
    explicit: Mapping[str, str] | None,
    *,
    notebookutils: Any = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[], dict[str, str]] | None:
    """A callable giving the options to use for ``uri`` now (None: no options at all).

    Explicit credentials are used as given. A OneLake URI without them gets a Fabric
    bearer token (``notebookutils`` is looked up when not passed); explicit non-credential
    keys (timeouts, endpoints) are laid over the discovered ones.
    """
    given = dict(explicit or {})
    has_credential = any(_CREDENTIAL_KEY.search(k) for k in given)
    if not has_credential and is_onelake(uri):
        nbu = notebookutils if notebookutils is not None else _notebookutils()
        get = getattr(getattr(nbu, "credentials", None), "getToken", None)
        if callable(get):
            token = FabricToken(get, clock)
            return lambda: {**token(), **given}
    if not given:
        return None
    return lambda: dict(given)


def _place(uri: str, options: Mapping[str, str]) -> str:
    m = re.match(r"^(abfss?|wasbs?)://(?P<c>[^@/]+)@(?P<a>[^./]+)\.", uri, re.I)
    if m:
        return f"Azure account {m.group('a')!r}, container {m.group('c')!r}"
    m = re.match(r"^(az|adl|azure)://(?P<c>[^/]+)", uri, re.I)
    if m:
        acct = options.get("account_name") or options.get("azure_storage_account_name") or "?"
        return f"Azure account {acct!r}, container {m.group('c')!r}"
    m = re.match(r"^(s3a?|gs)://(?P<b>[^/]+)", uri, re.I)
    if m:
        return f"bucket {m.group('b')!r}"
    return f"location {uri!r}"


def _diagnosis(text: str) -> str:
    low = text.lower()
    if "containernotfound" in low or "nosuchbucket" in low:
        return "the container (or bucket) does not exist: create it, or fix the URI"
    if "403" in low or "authorizationfailure" in low or "authenticationfailed" in low:
        return (
            "the store refused the credentials (403): check the key, SAS or token in "
            "storage_options and that it grants read and write on this container"
        )
    if "401" in low:
        return "the store asked for credentials (401): pass them in storage_options"
    if "connection refused" in low or "dns error" in low or "error sending request" in low:
        return "the store could not be reached: check the account name and endpoint"
    first = next((line.strip() for line in text.splitlines() if line.strip()), text)
    return first[:300]


@contextlib.contextmanager
def store_errors(uri: str, options: Mapping[str, str] | None, *, doing: str) -> Iterator[None]:
    """Turn an error from a remote store into one `StorageError` naming account and
    container, with secrets removed (local paths and LakeTrace's own errors pass through).
    """
    try:
        yield
        return
    except _NOT_THE_STORE:
        raise  # ours, or a bug: not the store's answer
    except OSError as exc:
        if exc.filename is not None and "://" not in str(exc.filename):
            raise  # a local file (spool, ledger, staging): e.g. a full local disk
        message = _store_message(exc, uri, options, doing)
        if message is None:
            raise  # a local target: the file system's error, with nothing to hide
    except Exception as exc:
        message = _store_message(exc, uri, options, doing)
        if message is None:
            raise
    raise_clean(StorageError(message))  # the unredacted original is not kept as context


# errors that are LakeTrace's own or a bug in it, never the store's answer
_NOT_THE_STORE = (
    LakeTraceError, ImportError, TypeError, AttributeError, KeyError, IndexError, NameError,
    AssertionError, RecursionError,
)  # fmt: skip


def _store_message(
    exc: BaseException, uri: str, options: Mapping[str, str] | None, doing: str
) -> str | None:
    """The `StorageError` text for ``exc`` (None when ``uri`` is local)."""
    if "://" not in uri or uri.startswith("file://"):
        return None
    detail = redact_text(str(exc), options)
    return (
        f"{doing} {redact_text(uri, options)} failed ({_place(uri, options or {})}): "
        f"{_diagnosis(detail)}. [{type(exc).__name__}: "
        f"{detail.splitlines()[0][:200] if detail else ''}]"
    )
