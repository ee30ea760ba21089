"""upload_log_to_lakehouse (LakeTrace 1.x): one JSON-lines file with this run's records of
the logger, written whole (never appended), through a local path, the Fabric lakehouse
mount, notebookutils.fs or dbutils.fs, with retries, returning False (one WARNING) on
failure instead of raising."""

from __future__ import annotations

import json
import os
import sys
import types

import pytest

from laketrace.log import upload
from laketrace.sinks.lifecycle import maintenance
from laketrace.spool.names import list_spool
from laketrace.testing import capture_records
from tests.flush.cases import mark_zip


class FakeFs:
    """Just enough of notebookutils.fs / dbutils.fs: put(path, text, overwrite)."""

    def __init__(self, fail: int = 0) -> None:
        self.files: dict[str, str] = {}
        self.calls: list[tuple[str, bool]] = []
        self.fail = fail

    def put(self, path: str, content: str, overwrite: bool = False) -> bool:
        self.calls.append((path, overwrite))
        if self.fail:
            self.fail -= 1
            raise OSError("throttled")
        if path in self.files and not overwrite:
            raise FileExistsError(path)
        self.files[path] = content
        return True

    def append(self, *args: object) -> None:  # pragma: no cover - must never be called
        raise AssertionError("upload must never append")


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(upload.time, "sleep", lambda s: None)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_local_upload_copies_sealed_compressed_and_active_records(make_logger, tmp_path):
    """Locally the target is a path: every record of this run (sealed, compressed, active)
    lands in one JSON-lines file, in order; the logger keeps working."""
    log = make_logger(rotation="300 B", compression="gz")
    for i in range(12):
        log.info("record {}", i, i=i)
    log.flush()
    target = tmp_path / "out" / "job.log"
    assert log.upload_log_to_lakehouse(str(target)) is True
    records = _lines(target.read_text())
    assert [r["msg"] for r in records] == [f"record {i}" for i in range(12)]
    assert len(list_spool(log.log_dir)) > 2  # it really read several files
    assert not [p for p in os.listdir(target.parent) if p.endswith(".tmp")]
    log.info("after")


def test_upload_replaces_the_target_whole(make_logger, tmp_path):
    """A second upload replaces the file (temp file renamed), it never appends to it."""
    log = make_logger()
    log.info("one")
    target = tmp_path / "job.log"
    target.write_text("old content\n")
    assert log.upload_log_to_lakehouse(str(target))
    log.info("two")
    assert log.upload_log_to_lakehouse(str(target))
    msgs = [r["msg"] for r in _lines(target.read_text())]
    assert msgs.count("one") == 1 and msgs[-1] == "two" and len(msgs) == 3  # + the upload INFO
    assert "old content" not in target.read_text()


def test_only_this_logger_and_this_run(make_logger, log_dir, tmp_path):
    """Records of other loggers and of other runs in the same directory are left out."""
    earlier = make_logger(name="upload.same", run_id="run-b")
    earlier.info("earlier run")
    mine = make_logger(name="upload.same", run_id="run-a")  # replaces it: a new run
    other = make_logger(run_id="run-a")
    mine.info("mine")
    other.info("other")
    target = tmp_path / "u.jsonl"
    assert mine.upload_log_to_lakehouse(str(target))
    assert [r["msg"] for r in _lines(target.read_text())] == ["mine"]


def test_fabric_files_path_goes_through_the_lakehouse_mount(make_logger, tmp_path, monkeypatch):
    """On Fabric, 'Files/...' is written under /lakehouse/default/Files when it is mounted."""
    monkeypatch.setenv("LAKETRACE_RUNTIME", "fabric")
    mount = tmp_path / "lakehouse" / "default"
    (mount / "Files").mkdir(parents=True)
    monkeypatch.setattr(upload, "LAKEHOUSE_MOUNT", str(mount))
    log = make_logger()
    log.info("hi")
    assert log.upload_log_to_lakehouse("Files/logs/my_job.log")
    assert _lines((mount / "Files" / "logs" / "my_job.log").read_text())[0]["msg"] == "hi"
    assert log.upload_log_to_lakehouse("/Files/logs/second.log")
    assert (mount / "Files" / "logs" / "second.log").exists()


def test_fabric_without_mount_uses_notebookutils_put(make_logger, tmp_path, monkeypatch):
    """Without the mount, Fabric uploads with one notebookutils.fs.put(..., overwrite)."""
    monkeypatch.setenv("LAKETRACE_RUNTIME", "fabric")
    monkeypatch.setattr(upload, "LAKEHOUSE_MOUNT", str(tmp_path / "absent"))
    fs = FakeFs()
    monkeypatch.setitem(sys.modules, "notebookutils", types.SimpleNamespace(fs=fs))
    log = make_logger()
    log.info("hi")
    assert log.upload_log_to_lakehouse("Files/logs/my_job.log")
    assert log.upload_log_to_lakehouse("abfss://ws@onelake.dfs.fabric.microsoft.com/lh/Files/x")
    assert fs.calls == [
        ("Files/logs/my_job.log", True),
        ("abfss://ws@onelake.dfs.fabric.microsoft.com/lh/Files/x", True),
    ]
    assert _lines(fs.files["Files/logs/my_job.log"])[0]["msg"] == "hi"


def test_databricks_uses_dbutils_for_dbfs_and_relative_paths(make_logger, monkeypatch):
    """On Databricks, dbfs:/ URIs and relative paths (as dbfs:/...) go through dbutils.fs."""
    monkeypatch.setenv("LAKETRACE_RUNTIME", "databricks")
    fs = FakeFs()
    dbutils = types.SimpleNamespace(fs=fs)
    monkeypatch.setattr(sys.modules["__main__"], "dbutils", dbutils, raising=False)
    log = make_logger()
    log.info("hi")
    assert log.upload_log_to_lakehouse("dbfs:/logs/a.log")
    assert log.upload_log_to_lakehouse("Files/logs/b.log")
    assert [c[0] for c in fs.calls] == ["dbfs:/logs/a.log", "dbfs:/Files/logs/b.log"]


@pytest.mark.parametrize(
    ("target", "runtime", "expected"),
    [
        ("/Volumes/main/ops/logs/a.log", "databricks", ("local", "/Volumes/main/ops/logs/a.log")),
        ("/dbfs/logs/a.log", "databricks", ("local", "/dbfs/logs/a.log")),
        ("file:/tmp/a.log", "databricks", ("local", "/tmp/a.log")),
        ("logs/a.log", "local", ("local", "logs/a.log")),
        ("abfss://c@a.dfs/x", "local", ("remote", "abfss://c@a.dfs/x")),
        ("/lakehouse/default/Files/a.log", "fabric", ("local", "/lakehouse/default/Files/a.log")),
    ],
)
def test_target_resolution(target, runtime, expected, monkeypatch, tmp_path):
    """Volumes, /dbfs and file: paths are local; URIs go through the platform's fs utils."""
    monkeypatch.setattr(upload, "LAKEHOUSE_MOUNT", str(tmp_path / "absent"))
    assert upload.resolve(target, runtime) == expected


def test_retries_then_succeeds(make_logger, monkeypatch):
    """A failing put is retried max_retries times; success on a retry returns True."""
    monkeypatch.setenv("LAKETRACE_RUNTIME", "fabric")
    fs = FakeFs(fail=2)
    monkeypatch.setitem(sys.modules, "notebookutils", types.SimpleNamespace(fs=fs))
    log = make_logger()
    log.info("hi")
    assert log.upload_log_to_lakehouse("abfss://x@y/z", max_retries=2) is True
    assert len(fs.calls) == 3


def test_failure_returns_false_with_one_warning(make_logger, monkeypatch):
    """After the retries a failure returns False with exactly one WARNING, never raising."""
    monkeypatch.setenv("LAKETRACE_RUNTIME", "fabric")
    fs = FakeFs(fail=10)
    monkeypatch.setitem(sys.modules, "notebookutils", types.SimpleNamespace(fs=fs))
    log = make_logger()
    log.info("hi")
    with capture_records() as records:
        assert log.upload_log_to_lakehouse("abfss://x@y/z", max_retries=1) is False
    assert len(fs.calls) == 2
    (warning,) = records
    assert warning.level == "WARNING" and "after 2 attempt(s)" in warning.message


@pytest.mark.parametrize("target", ["abfss://x@y/z", "", None, 42])
def test_unreachable_or_bad_targets_return_false(make_logger, target):
    """No fs utils for a URI, or a target that is not a path: False and one WARNING."""
    log = make_logger()
    log.info("hi")
    with capture_records() as records:
        assert log.upload_log_to_lakehouse(target) is False
    assert [r.level for r in records] == ["WARNING"]


def test_unwritable_local_target_returns_false(make_logger, tmp_path):
    """A local path that cannot be written fails after the retries with False."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    log = make_logger()
    log.info("hi")
    with capture_records() as records:
        assert log.upload_log_to_lakehouse(str(blocker / "sub" / "a.log")) is False
    assert [r.level for r in records] == ["WARNING"]


def test_empty_run_uploads_nothing(make_logger, tmp_path):
    """A logger that logged nothing this run returns False (as 1.x did) and writes nothing."""
    log = make_logger()
    assert log.upload_log_to_lakehouse(str(tmp_path / "a.log")) is False
    assert not (tmp_path / "a.log").exists()


def test_enqueue_records_are_uploaded(make_logger, tmp_path):
    """Records still queued (enqueue=True) are written before the copy is made."""
    log = make_logger(enqueue=True)
    for i in range(50):
        log.info("q{}", i)
    target = tmp_path / "q.log"
    assert log.upload_log_to_lakehouse(str(target))
    assert len(_lines(target.read_text())) == 50


def test_a_directory_target_returns_false_and_keeps_the_directory(make_logger, tmp_path):
    """A target that is an existing directory is not replaced: False, one WARNING, and the
    directory and its files stay as they were."""
    target = tmp_path / "dir"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    log = make_logger()
    log.info("hi")
    with capture_records() as records:
        assert log.upload_log_to_lakehouse(str(target), max_retries=1) is False
    assert [r.level for r in records] == ["WARNING"]
    assert sorted(os.listdir(target)) == ["keep.txt"]


def test_active_mapped_segment_uploads_whole_lines_without_nuls(make_logger, tmp_path):
    """Records in the active spool file (a mapped segment with reserved NUL space) are
    uploaded as complete JSON lines, with no NUL bytes and a final newline."""
    log = make_logger()
    for i in range(5):
        log.info("live {}", i)
    target = tmp_path / "live.log"
    assert log.upload_log_to_lakehouse(str(target)) is True
    data = target.read_bytes()
    assert b"\x00" not in data and data.endswith(b"\n")
    assert [r["msg"] for r in _lines(data.decode())] == [f"live {i}" for i in range(5)]
    log.info("after")
    log.close()
    ((path, _),) = list_spool(log.log_dir)
    with open(path, "rb") as fh:
        assert b"\x00" not in fh.read()


def test_a_damaged_zip_of_the_run_does_not_stop_the_upload(make_logger, tmp_path):
    """A spool file of the run that is an unreadable zip (an encrypted member: zipfile
    raises RuntimeError) is left out; the run's other records are uploaded."""
    log = make_logger(rotation="300 B", compression="zip")
    for i in range(12):
        log.info("record {}", i, i=i)
    log.flush()
    maintenance.drain(timeout=30)  # sealed files are compressed on a maintenance thread
    zips = [p for p, n in list_spool(log.log_dir) if p.endswith(".zip")]
    assert zips, "the test needs a compressed file"
    mark_zip(zips[0], 6, 1)  # encrypted
    target = tmp_path / "out" / "job.log"
    assert log.upload_log_to_lakehouse(str(target)) is True
    got = [r["msg"] for r in _lines(target.read_text())]
    assert got and len(got) < 12 and got == sorted(set(got), key=lambda m: int(m.split()[1]))
