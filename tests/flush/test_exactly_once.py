"""Exactly once does not depend on a local file surviving (delta-rs writer): the table is
identified by its Delta table id, every commit records what it shipped, and a lost,
emptied, corrupted or outdated ledger is rebuilt from the table."""

from __future__ import annotations

import json
import os
import shutil

import pytest

pytest.importorskip("deltalake")
pytest.importorskip("duckdb")

from deltalake import DeltaTable, write_deltalake

from laketrace import flush_to_delta
from laketrace.flush.commits import History, parse_meta
from laketrace.flush.delta_rs import DeltaRsWriter
from laketrace.spool.ledger import manifest_path
from laketrace.spool.names import INTERNAL_DIR
from laketrace.testing import read_delta


def _log(make_logger, n, tag):
    log = make_logger(rotation="4 KB")
    for i in range(n):
        log.info("{} {}", tag, i)
    log.close()


def _ids(target):
    return read_delta(target, ["record_id"]).column("record_id").to_pylist()


def _once(target, n):
    ids = _ids(target)
    assert len(ids) == n, f"{len(ids)} rows, expected {n}"
    assert len(set(ids)) == n, f"{len(ids) - len(set(ids))} duplicates"


def _lose(log_dir, how):
    path = manifest_path(log_dir)
    if how == "delete":
        os.unlink(path)
    elif how == "empty":
        open(path, "w").close()
    elif how == "delete_internal_dir":
        shutil.rmtree(os.path.join(log_dir, INTERNAL_DIR))


@pytest.mark.parametrize("how", ["delete", "empty", "delete_internal_dir"])
def test_lost_ledger_neither_duplicates_nor_loses(make_logger, log_dir, tmp_path, how):
    """Deleting or emptying the ledger (or all of _laketrace/) and flushing again ships
    only the new files: no record twice (today: all again), none lost (today: new
    batches renumbered and skipped by Delta)."""
    target = str(tmp_path / "t")
    _log(make_logger, 600, "old")
    first = flush_to_delta(log_dir=log_dir, path=target)
    assert first.batches == 1 and first.records == 600
    _lose(log_dir, how)
    _log(make_logger, 300, "new")
    res = flush_to_delta(log_dir=log_dir, path=target, batch_bytes=20_000)
    assert res.records == 300 and res.rebuilt == ["the ledger has no entries for this table"]
    _once(target, 900)
    assert flush_to_delta(log_dir=log_dir, path=target).records == 0


def _corrupt(path, how, event):
    lines = open(path, "rb").read().splitlines(keepends=True)
    at = next(i for i, raw in enumerate(lines) if json.loads(raw).get("event") == event)
    raw = lines[at]
    if how == "garbage":
        lines[at] = b"\x00\x13garbage that is not json\n"
    elif how == "truncated":
        lines[at] = raw[: len(raw) // 2] + b"\n"
    elif how == "bit_flip":  # still valid JSON, but the checksum no longer matches
        lines[at] = raw.replace(b'"batch":1', b'"batch":3', 1)
    with open(path, "wb") as fh:
        fh.writelines(lines)


@pytest.mark.parametrize("event", ["planned", "committed"])
@pytest.mark.parametrize("how", ["garbage", "truncated", "bit_flip"])
def test_corrupted_ledger_line_is_rebuilt_from_the_table(
    make_logger, log_dir, tmp_path, how, event
):
    """A corrupted planned or committed line (garbage, torn, or a changed digit the
    checksum catches) makes the flush rebuild the ledger from the table: no duplicates
    (today: 2,040 for a corrupted planned line)."""
    target = str(tmp_path / "t")
    _log(make_logger, 500, "old")
    flush_to_delta(log_dir=log_dir, path=target)
    _corrupt(manifest_path(log_dir), how, event)
    _log(make_logger, 200, "new")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.records == 200 and res.rebuilt == ["the ledger has damaged lines"]
    _once(target, 700)
    assert any(
        n.startswith("manifest.jsonl.damaged-")
        for n in os.listdir(os.path.dirname(manifest_path(log_dir)))
    )


def _aliases(tmp_path):
    real = str(tmp_path / "t")
    link = str(tmp_path / "link")
    os.symlink(real, link)
    return real, ["/" + real, real.replace("/t", "/./t") + "/", link, link + "/"]


def test_same_table_through_other_spellings_is_not_written_again(make_logger, log_dir, tmp_path):
    """//tmp/t, /tmp/./t/ and a symlink reach the same table (same Delta table id): nothing
    already shipped is written again (today: everything again, by path spelling)."""
    real, aliases = _aliases(tmp_path)
    _log(make_logger, 300, "first")
    flush_to_delta(log_dir=log_dir, path=real)
    for i, alias in enumerate(aliases):
        res = flush_to_delta(log_dir=log_dir, path=alias)
        assert (res.records, res.rebuilt) == (0, []), alias
        _log(make_logger, 10, f"via{i}")
        assert flush_to_delta(log_dir=log_dir, path=alias).records == 10
    _once(real, 300 + 10 * len(aliases))


def test_ledger_restored_from_an_old_copy_is_caught_up(make_logger, log_dir, tmp_path):
    """An old copy of the ledger (behind the table) numbers new batches that Delta already
    has; the flush sees the table holds them, rebuilds, and loses nothing."""
    target = str(tmp_path / "t")
    _log(make_logger, 200, "a")
    flush_to_delta(log_dir=log_dir, path=target)
    old = open(manifest_path(log_dir), "rb").read()
    _log(make_logger, 200, "b")
    flush_to_delta(log_dir=log_dir, path=target)
    with open(manifest_path(log_dir), "wb") as fh:
        fh.write(old)
    _log(make_logger, 200, "c")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.records == 200 and res.rebuilt == ["the table has commits the ledger does not know"]
    _once(target, 600)


def test_every_commit_records_what_it_shipped(make_logger, log_dir, tmp_path):
    """Each commit's userMetadata names the spool, txn and files (stems and sizes)."""
    target = str(tmp_path / "t")
    _log(make_logger, 100, "m")
    flush_to_delta(log_dir=log_dir, path=target, batch_bytes=8_000)
    metas = [parse_meta(h.get("userMetadata")) for h in DeltaTable(target).history()]
    metas = [m for m in metas if m]
    stems = sorted(s for m in metas for s, _ in m["files"])
    assert stems == sorted(n for n in os.listdir(log_dir) if n.endswith(".sealed.jsonl"))
    assert {m["kind"] for m in metas} == {"main"} and len({m["batch"] for m in metas}) == len(metas)


def test_uncertain_state_ships_idempotently(make_logger, log_dir, tmp_path):
    """When the history cannot vouch for a file (a commit without LakeTrace metadata, e.g.
    from an older LakeTrace, may hold its rows), the file ships idempotently: only
    record_ids the table does not hold are inserted."""
    scratch, target = str(tmp_path / "scratch"), str(tmp_path / "t")
    _log(make_logger, 300, "x")
    flush_to_delta(log_dir=log_dir, path=scratch)
    rows = read_delta(scratch)
    write_deltalake(target, rows.slice(0, 150), partition_by=["date"])  # no metadata
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.rebuilt == ["the ledger has no entries for this table"]
    assert res.idempotent_batches == 1 and res.records == 150
    _once(target, 300)
    assert sorted(_ids(target)) == sorted(rows.column("record_id").to_pylist())


def test_history_that_no_longer_reaches_back_ships_idempotently(
    make_logger, log_dir, tmp_path, monkeypatch
):
    """If the table's log was cleaned up past the spool's oldest file, shipping after a
    rebuild is idempotent too."""
    target = str(tmp_path / "t")
    _log(make_logger, 120, "y")
    flush_to_delta(log_dir=log_dir, path=target)
    real = DeltaRsWriter.history

    def short(self, since_ms, *, quarantine=False):
        return History([], False) if not quarantine else real(self, since_ms, quarantine=True)

    monkeypatch.setattr(DeltaRsWriter, "history", short)
    _lose(log_dir, "delete")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert res.idempotent_batches == 1 and res.records == 0
    _once(target, 120)


def test_ledger_from_before_table_ids_is_continued(make_logger, log_dir, tmp_path):
    """A ledger written before tables were identified by id (entries keyed by the path
    hash) keeps its txn sequence: no rebuild, nothing shipped twice."""
    from laketrace.targets import resolve_target

    target = str(tmp_path / "t")
    _log(make_logger, 100, "legacy")
    flush_to_delta(log_dir=log_dir, path=target)
    key = resolve_target(path=target).key
    path = manifest_path(log_dir)
    legacy = []
    for raw in open(path, "rb"):
        e = json.loads(raw)
        if e["event"] in ("planned", "committed"):
            e = {k: v for k, v in e.items() if k not in ("table_id", "sum")}
            e["target"] = key
            if e["event"] == "committed":
                e.pop("files")
                e.pop("app_id")
            legacy.append(e)
    with open(path, "w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in legacy)
    _log(make_logger, 50, "after")
    res = flush_to_delta(log_dir=log_dir, path=target)
    assert (res.records, res.rebuilt) == (50, [])
    _once(target, 150)
