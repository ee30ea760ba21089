"""The delta-rs flush, query and report against a real object store: Azurite.

One azurite-blob per module (tests/azurite.py); each test flushes into its own container
through the ``abfss://<container>@devstoreaccount1.dfs.core.windows.net/...`` URL users
write, with the account key in ``storage_options``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import laketrace
from laketrace.cli.commands import main
from laketrace.errors import StorageError
from laketrace.flush.faults import EXIT_CODE
from laketrace.read.query import delta_dataset
from laketrace.spool.ledger import manifest_path
from tests import azurite

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")
from deltalake import DeltaTable

pytestmark = pytest.mark.slow

_containers = itertools.count(1)
WRONG_KEY = azurite.KEY[:-12] + "AAAAAAAAAAA="

# a child process: log `n` records per round into its own spool and flush after each round
_WORKER = """
import json, sys
import laketrace
args = json.loads(sys.argv[1])
log = laketrace.get_logger(args["name"], {"log_dir": args["log_dir"], "stdout": False})
for r in range(args["rounds"]):
    for i in range(args["n"]):
        log.info("{}-{}-{}", args["name"], r, i)
    log.flush_to_delta(path=args["uri"], storage_options=args["options"])
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite.Azurite]:
    server = azurite.start(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def remote(store: azurite.Azurite) -> str:
    """A fresh container; the URI of a table in it."""
    name = f"logs{next(_containers)}"
    store.create_container(name)
    return store.uri(name, "lake/app_logs")


def _counts(uri: str, options: dict[str, str]) -> tuple[int, int]:
    out = laketrace.query(
        "SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM logs",
        path=uri,
        storage_options=options,
    ).to_pylist()[0]
    return out["n"], out["ids"]


def _child(args: dict, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, json.dumps(args)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_repeated_flushes_ship_each_record_once(store, remote, make_logger, log_dir):
    """Flushing to an abfss:// table on Azurite twice, then again after more records,
    ships every record exactly once."""
    opts = store.options()
    log = make_logger(path=remote, storage_options=opts)
    for i in range(30):
        log.info("first {}", i)
    assert log.flush_to_delta().records == 30
    assert log.flush_to_delta().records == 0
    for i in range(7):
        log.warning("second {}", i)
    res = log.flush_to_delta()
    assert (res.records, res.writer) == (7, "delta-rs")
    assert _counts(remote, opts) == (37, 37)


def test_two_processes_flush_one_remote_table_concurrently(store, remote, tmp_path):
    """Two processes flushing their own spools into one remote table at the same time, five
    rounds each, lose and duplicate nothing."""
    opts = store.options()
    kids = [
        _child(
            {
                "name": name,
                "log_dir": str(tmp_path / name),
                "rounds": 5,
                "n": 40,
                "uri": remote,
                "options": opts,
            }
        )
        for name in ("alpha", "beta")
    ]
    for kid in kids:
        _, err = kid.communicate(timeout=300)
        assert kid.returncode == 0, err[-3000:]
    assert _counts(remote, opts) == (400, 400)
    per = laketrace.query(
        "SELECT logger, count(DISTINCT msg) AS n FROM logs GROUP BY logger ORDER BY logger",
        path=remote,
        storage_options=opts,
    ).to_pylist()
    assert per == [{"logger": "alpha", "n": 200}, {"logger": "beta", "n": 200}]


@pytest.mark.parametrize("point", ["between_commits", "after_commit"])
def test_flush_killed_mid_commit_then_rerun_is_exactly_once(store, remote, tmp_path, point):
    """A flush process killed before or right after its main Delta commit, then run
    again, leaves every record in the remote table exactly once."""
    opts = store.options()
    spool = tmp_path / "spool"
    kid = _child(
        {
            "name": "crash",
            "log_dir": str(spool),
            "rounds": 1,
            "n": 25,
            "uri": remote,
            "options": opts,
        },
        LAKETRACE_FAULT=point,
    )
    _, err = kid.communicate(timeout=300)
    assert kid.returncode == EXIT_CODE, err[-3000:]
    again = laketrace.flush_to_delta(log_dir=str(spool), path=remote, storage_options=opts)
    assert again.records == (0 if point == "after_commit" else 25)
    assert _counts(remote, opts) == (25, 25)
    last = laketrace.flush_to_delta(log_dir=str(spool), path=remote, storage_options=opts)
    assert (last.records, last.batches) == (0, 0)


def test_query_and_report_read_the_remote_table(store, remote, make_logger, tmp_path, capsys):
    """laketrace.query(..., storage_options=) and `laketrace report --storage-option` read
    the remote table (the report names the run); a SQL error stays DuckDB's own."""
    opts = store.options()
    log = make_logger(path=remote, storage_options=opts, run_id="remote-run-1")
    log.info("hello")
    log.error("boom {}", 1)
    log.flush_to_delta()
    levels = laketrace.query(
        "SELECT level, count(*) AS n FROM logs GROUP BY level ORDER BY level",
        path=remote,
        storage_options=opts,
    ).to_pylist()
    assert levels == [{"level": "ERROR", "n": 1}, {"level": "INFO", "n": 1}]
    with pytest.raises(Exception, match="nosuchcolumn") as bad_sql:
        laketrace.query("SELECT nosuchcolumn FROM logs", path=remote, storage_options=opts)
    assert not isinstance(bad_sql.value, StorageError)  # the SQL's error, as DuckDB says it
    out = tmp_path / "report.html"
    argv = ["report", "--path", remote, "--out", str(out)]
    for key, value in opts.items():
        argv += ["--storage-option", f"{key}={value}"]
    assert main(argv) == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert "remote-run-1" in page and "boom 1" in page
    assert azurite.KEY not in capsys.readouterr().out


def test_emulator_option_reaches_azurite(store, remote, make_logger, monkeypatch):
    """delta-rs' own use_emulator option (endpoint from AZURITE_BLOB_STORAGE_URL) works too."""
    opts = store.options()
    log = make_logger(path=remote, storage_options=opts)
    log.info("via endpoint")
    log.flush_to_delta()
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", f"http://127.0.0.1:{store.port}")
    assert _counts(remote, {"use_emulator": "true"}) == (1, 1)


def test_bad_credentials_one_clear_error_nothing_marked_shipped(
    store, remote, make_logger, log_dir, capsys
):
    """A refused key gives one StorageError naming account and container (no secret), the
    ledger is unchanged, and the next flush with the right key ships everything."""
    good = store.options()
    log = make_logger(path=remote, storage_options=good)
    log.info("shipped")
    log.flush_to_delta()
    log.info("waiting {}", 1)
    log.info("waiting {}", 2)
    ledger = Path(manifest_path(log_dir))
    before = ledger.read_bytes()
    with pytest.raises(StorageError) as info:
        log.flush_to_delta(storage_options=store.options(key=WRONG_KEY))
    msg = str(info.value)
    container = remote.split("@")[0].rsplit("/", 1)[1]
    assert "account 'devstoreaccount1'" in msg and f"container '{container}'" in msg
    assert "403" in msg and WRONG_KEY not in msg and info.value.__cause__ is None
    assert ledger.read_bytes() == before
    argv = [
        "flush",
        "--log-dir",
        log_dir,
        "--path",
        remote,
        "--storage-option",
        f"account_key={WRONG_KEY}",
    ]
    for key in ("account_name", "azure_storage_endpoint", "allow_http"):
        argv += ["--storage-option", f"{key}={good[key]}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "container" in err and WRONG_KEY not in err
    assert ledger.read_bytes() == before
    assert log.flush_to_delta().records == 2
    assert _counts(remote, good) == (3, 3)


def test_missing_container_is_named(store, tmp_path):
    """Reading a table in a container that does not exist says so, naming it."""
    with pytest.raises(StorageError, match=r"container 'nosuch'.*does not exist"):
        laketrace.query("SELECT 1", path=store.uri("nosuch", "t"), storage_options=store.options())


def test_quarantine_option_names_a_remote_quarantine_table(store, remote, make_logger, log_dir):
    """quarantine= on a remote target puts bad lines in that remote table (not the default
    one next to the target), written by delta-rs with the same storage options."""
    opts = store.options()
    log = make_logger(path=remote, storage_options=opts)
    log.info("good")
    log.close()
    Path(log_dir, "notes.txt").write_text("not a record\n")
    elsewhere = remote.rsplit("/", 1)[0] + "/rejects"
    res = laketrace.flush_to_delta(
        log_dir=log_dir, path=remote, quarantine=elsewhere, storage_options=opts
    )
    assert (res.records, res.quarantined, res.writer) == (1, 1, "delta-rs")
    got = delta_dataset(elsewhere, storage_options=opts).to_table(columns=["raw_line"])
    assert got.to_pylist() == [{"raw_line": "not a record"}]
    assert not DeltaTable.is_deltatable(remote + "_quarantine", storage_options=opts)
