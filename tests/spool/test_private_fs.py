"""Private files: 0700 directories and 0600 files whatever the umask, no symlink followed,
and no spool file visible before its writer holds its lock (recover never seals it)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from laketrace import recover
from laketrace.spool import _fs
from laketrace.spool.names import list_spool

from ..conftest import spool_records


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_make_private_dirs_creates_0700_and_leaves_existing_dirs(tmp_path):
    """Every directory make_private_dirs creates is 0700; existing ones keep their mode."""
    tmp_path.chmod(0o755)
    old = os.umask(0)
    try:
        _fs.make_private_dirs(str(tmp_path / "a" / "b" / "c"))
    finally:
        os.umask(old)
    assert _mode(str(tmp_path)) == 0o755
    for d in ("a", "a/b", "a/b/c"):
        assert _mode(str(tmp_path / d)) == 0o700


def test_open_private_refuses_a_symlink(tmp_path):
    """open_private and open_private_file never write through a symlink."""
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        _fs.open_private(str(link), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with pytest.raises(OSError):
        _fs.open_private_file(str(link))
    with pytest.raises(OSError):
        _fs.open_nofollow(str(link))
    assert victim.read_text() == "keep\n"


def test_create_spool_file_never_replaces_or_follows_what_is_there(tmp_path):
    """A planted symlink or file at the new spool name gives FileExistsError, untouched."""
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    planted = tmp_path / "a__20250101T000000000000Z__r__1__000001.jsonl"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        _fs.create_spool_file(str(planted), 0o600, lock=True)
    assert victim.read_text() == "keep\n" and planted.is_symlink()
    assert os.listdir(tmp_path / "_laketrace" / "tmp") == []  # no temp left behind


def test_recover_inside_the_creation_window_never_sees_the_file(make_logger, log_dir):
    """recover() run between open and flock of a new spool file neither lists nor seals it."""
    seen = []

    def hook(step, tmp):
        res = recover(log_dir)
        seen.append((step, [os.path.basename(p) for p, _ in list_spool(log_dir)], res.sealed))

    log = make_logger(rotation="1 KB")
    _fs.fault_hook = hook
    try:
        for i in range(40):
            log.info("r{}", i, pad="x" * 100)
    finally:
        _fs.fault_hook = None
    assert {step for step, _, _ in seen} == {"opened", "locked"}
    assert len(seen) >= 8  # several rotations happened inside the window
    for _, listed, sealed in seen:
        assert sealed == [] and all(".sealed." in n for n in listed)
    log.close()
    assert [r["msg"] for r in spool_records(log_dir)] == [f"r{i}" for i in range(40)]


def test_recover_never_seals_a_live_file_under_rotation(log_dir):
    """A flush-style recover() loop beside a writer rotating every 300 B seals none of its files."""
    os.makedirs(log_dir)
    code = textwrap.dedent(
        """
        import sys, laketrace
        log = laketrace.get_logger("race", {"log_dir": sys.argv[1], "stdout": False,
                                            "rotation": "300 B"})
        for i in range(3000):
            log.info("r {}", i)
        log.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code, log_dir])
    stolen = []
    while proc.poll() is None:
        stolen += recover(log_dir).sealed
    assert proc.wait() == 0
    assert stolen == []
    assert sorted(int(r["msg"].split()[1]) for r in spool_records(log_dir)) == list(range(3000))


UMASK_CHILD = """
import json, os, stat, sys
os.umask(0)
base = sys.argv[1]
import laketrace
from laketrace.flush import run as flush_run
spool = os.path.join(base, "made", "by", "laketrace")
log = laketrace.get_logger("um", {"log_dir": spool, "stdout": False, "rotation": "1 KB",
                                  "compression": "bz2", "path": os.path.join(base, "table")})
for i in range(60):
    log.info("r{}", i, pad="x" * 50)
log.close()
seen = {}
def walk(top):
    for dp, dns, fns in os.walk(top):
        for n in dns + fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            seen[p] = [stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode)]
real_prepare = flush_run.prepare
def prepare(writer, spool_dir, files, staging, *rest):
    out = real_prepare(writer, spool_dir, files, staging, *rest)
    walk(staging)  # the staging copies exist only during the batch
    return out
flush_run.prepare = prepare
with open(os.path.join(spool, "bad.jsonl.txt"), "w") as fh:
    fh.write("not a record\\n")
log.flush_to_delta()
walk(os.path.join(base, "made"))
print(json.dumps(seen))
"""


def test_umask_000_leaves_nothing_open_to_others(tmp_path):
    """Under umask 000 every directory LakeTrace creates is 0700 and every file it writes 0600."""
    pytest.importorskip("deltalake")
    out = subprocess.run(
        [sys.executable, "-c", UMASK_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    base = str(tmp_path)
    seen = {p[len(base) :]: v for p, v in seen.items() if not p.endswith("bad.jsonl.txt")}
    names = "\n".join(seen)
    for needed in ("/_laketrace/spool_id", "/_laketrace/manifest.jsonl", "/staging/", ".bz2"):
        assert needed in names, f"{needed} was not checked"
    wrong = {p: oct(m) for p, (m, is_dir) in seen.items() if m != (0o700 if is_dir else 0o600)}
    assert wrong == {}
