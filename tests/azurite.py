"""Azurite (Microsoft's Azure Storage emulator) for the object-store tests.

`start` runs ``azurite-blob`` (installed by ./scripts/setup into ``.cache/azurite``) on a
free loopback port with a temporary data directory and returns an `Azurite` that creates
containers and gives delta-rs options for it. Azurite answers the Blob API only; delta-rs
(object_store) talks the Blob API for ``abfss://<container>@<account>.dfs.core.windows.net``
URLs too, so the tests use the very URL form users write. In CI (``CI=true`` or
``LAKETRACE_REQUIRE_AZURITE=1``) a missing Azurite fails instead of skipping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import queue
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
#: Azurite's well-known development key (public, the same on every machine)
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_API = "2021-08-06"
_READY = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")


def required() -> bool:
    """Whether a missing Azurite must fail the run (CI) rather than skip."""
    return os.environ.get("CI", "").lower() == "true" or bool(
        os.environ.get("LAKETRACE_REQUIRE_AZURITE")
    )


def find() -> str | None:
    """The ``azurite-blob`` executable: $LAKETRACE_AZURITE, ./.cache/azurite, or PATH."""
    for cand in (
        os.environ.get("LAKETRACE_AZURITE"),
        str(ROOT / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"),
    ):
        if cand and os.access(cand, os.X_OK):
            return cand
    return shutil.which("azurite-blob")


@dataclass
class Azurite:
    """A running azurite-blob."""

    proc: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def options(self, *, key: str = KEY) -> dict[str, str]:
        """delta-rs storage options for this emulator (``key``: the account key to send)."""
        return {
            "account_name": ACCOUNT,
            "account_key": key,
            "azure_storage_endpoint": self.endpoint,
            "allow_http": "true",
        }

    def uri(self, container: str, path: str) -> str:
        """The abfss:// URL users write for ``path`` in ``container``."""
        return f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/{path}"

    def create_container(self, name: str) -> None:
        """Create a container (a Shared Key signed Blob API request)."""
        date = formatdate(usegmt=True)
        to_sign = (
            "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{_API}\n"
            f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        )
        sig = hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(
            "PUT",
            f"/{ACCOUNT}/{name}?restype=container",
            headers={
                "x-ms-date": date,
                "x-ms-version": _API,
                "Authorization": f"SharedKey {ACCOUNT}:{base64.b64encode(sig).decode()}",
                "Content-Length": "0",
            },
        )
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 201, (resp.status, body[:300])

    def stop(self) -> None:
        """Stop this emulator (its own pid only). Killed, not terminated: a graceful close
        waits for the keep-alive connections delta-rs holds open in the test process, and
        its data directory is thrown away anyway."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def start(data_dir: Path, *, product_style: bool = False) -> Azurite:
    """Start azurite-blob on a free loopback port (skip, or fail in CI, when missing).

    ``product_style``: also accept ``<account>.blob.localhost`` host names (hadoop-azure).
    """
    exe = find()
    if exe is None:
        msg = "Azurite is not installed: ./scripts/setup installs it (npm, into .cache/azurite)"
        if required():
            pytest.fail(msg)
        pytest.skip(msg)
    proc = subprocess.Popen(
        [exe, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(data_dir),
         "--skipApiVersionCheck",
         *([] if product_style else ["--disableProductStyleUrl"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            pytest.fail(f"azurite-blob did not start: {''.join(seen)[-2000:]}")
        seen.append(line)
        m = _READY.search(line)
        if m:
            return Azurite(proc, int(m.group(1)))
