"""The local ledger: checksummed lines keyed by Delta table id, damage detection, the
planned/committed bookkeeping retention relies on, and the commit metadata format."""

from __future__ import annotations

import json
import os

from laketrace.flush.commits import Commit, commit_meta, parse_meta
from laketrace.spool.ids import spool_id
from laketrace.spool.ledger import Manifest, manifest_path, read_entries, shipped_stems


def _batch(m, event, batch, stems, table="T1", app="A"):
    m.append(
        {
            "event": event,
            "table_id": table,
            "app_id": app,
            "batch": batch,
            "files": [{"stem": s, "size": 1} for s in stems],
            "table_version": batch,
        }
    )


def test_state_per_table_id(tmp_path):
    """A table's state holds its committed stems, its pending batches and its txn."""
    m = Manifest(str(tmp_path))
    _batch(m, "planned", 1, ["a"])
    _batch(m, "committed", 1, ["a"])
    _batch(m, "planned", 2, ["b"])
    _batch(m, "planned", 1, ["c"], table="T2", app="B")
    st = m.state("T1")
    assert (st.app_id, st.last_batch, st.shipped, st.damaged) == ("A", 2, {"a"}, False)
    assert [e["batch"] for e in st.pending] == [2]
    assert st.table_version == 2 and ("A", 1) in st.known
    assert m.state("T3").app_id is None
    assert m.pending_txns() == {("A", 2), ("B", 1)}


def test_committed_entry_alone_ships_its_files(tmp_path):
    """A committed entry names its files, so a lost planned line loses nothing."""
    m = Manifest(str(tmp_path))
    _batch(m, "committed", 1, ["a", "b"])
    assert m.state("T1").shipped == {"a", "b"}
    assert shipped_stems(str(tmp_path)) == {"a", "b"}


def test_a_changed_line_is_damage_not_data(tmp_path):
    """A line that parses but no longer matches its checksum, or does not parse, or lacks
    a batch number, marks the ledger damaged and is ignored."""
    m = Manifest(str(tmp_path))
    _batch(m, "planned", 1, ["a"])
    _batch(m, "committed", 1, ["a"])
    path = manifest_path(str(tmp_path))
    lines = open(path).read().splitlines()
    lines[1] = lines[1].replace('"a"', '"zzz"')
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    entries, damaged = read_entries(path)
    assert damaged and len(entries) == 1
    assert m.state("T1").damaged
    with open(path, "w") as fh:
        fh.write(json.dumps({"event": "planned", "table_id": "T1", "files": []}) + "\n")
    assert m.state("T1").damaged  # no batch number: not resumable


def test_rewrite_keeps_a_damaged_ledger_aside(tmp_path):
    """Rewriting a damaged ledger keeps the old file beside it for a human to read."""
    m = Manifest(str(tmp_path))
    _batch(m, "planned", 1, ["a"])
    with open(m.path, "ab") as fh:
        fh.write(b"torn {\n")
    m.rewrite([{"event": "rebuilt", "table_id": "T1", "app_id": "N"}])
    assert m.state("T1").app_id == "N" and not m.state("T1").damaged
    assert any(n.startswith("manifest.jsonl.damaged-") for n in os.listdir(os.path.dirname(m.path)))


def test_ledger_written_before_checksums_still_counts_for_retention(tmp_path):
    """Old planned/committed lines (no table id, no checksum) still mark files shipped."""
    path = manifest_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as fh:
        fh.write(json.dumps({"event": "planned", "batch": 1, "files": [{"stem": "s"}]}) + "\n")
        fh.write(json.dumps({"event": "committed", "batch": 1}) + "\n")
    assert shipped_stems(str(tmp_path)) == {"s"}


def test_commit_metadata_round_trip_and_rejects_foreign_text():
    """Commit metadata parses back; other userMetadata is not mistaken for LakeTrace's."""
    text = commit_meta(spool="s", app="a", batch=4, kind="main", files=[("x.sealed.jsonl", 9)])
    meta = parse_meta(text)
    assert meta is not None and meta["files"] == [("x.sealed.jsonl", 9)]
    assert parse_meta("nightly load") is None and parse_meta('{"laketrace": "x"}') is None
    assert Commit(1, 0, "WRITE", None).unattributed
    assert not Commit(1, 0, "OPTIMIZE", None).unattributed
    assert not Commit(1, 0, "WRITE", meta).unattributed


def test_damaged_spool_id_is_replaced(tmp_path):
    """A spool id file with garbage in it is replaced by a fresh id."""
    first = spool_id(str(tmp_path))
    with open(os.path.join(str(tmp_path), "_laketrace", "spool_id"), "w") as fh:
        fh.write("not an id\x00")
    second = spool_id(str(tmp_path))
    assert len(second) == 32 and second != first and spool_id(str(tmp_path)) == second
