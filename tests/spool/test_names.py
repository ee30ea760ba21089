"""Spool file names: one file-name prefix per logger name, exact matching, regular files only."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laketrace.log import registry
from laketrace.sinks.lifecycle import maintenance
from laketrace.spool.names import (
    foreign_files,
    list_spool,
    parse_spool_name,
    safe_name,
    spool_prefix,
)

from ..conftest import spool_records

COLLIDING = [("a b", "a/b"), ("日本", "中国"), ("x" * 100 + "1", "x" * 100 + "2"), ("a:b", "a?b")]


@pytest.mark.parametrize(("one", "two"), COLLIDING)
def test_names_with_one_safe_form_get_distinct_prefixes(one, two):
    """Two logger names with the same safe form get different file-name prefixes."""
    assert safe_name(one) == safe_name(two)
    assert spool_prefix(one) != spool_prefix(two)


def test_safe_names_are_kept_as_they_are():
    """A logger name that is already file-safe is its own prefix (no hash)."""
    for name in ("etl", "etl.daily", "a_b", "job-7", "A.B_c-d"):
        assert spool_prefix(name) == name


@given(st.text(min_size=1, max_size=120), st.text(min_size=1, max_size=120))
def test_prefix_is_unique_and_parses_back(one, two):
    """Distinct names get distinct prefixes, and a file name built from one parses back to it."""
    if one != two:
        assert spool_prefix(one) != spool_prefix(two)
    prefix = spool_prefix(one)
    assert "/" not in prefix and "__" not in prefix and not prefix.startswith(("_", "."))
    parsed = parse_spool_name(f"{prefix}__20250101T000000000000Z__run__12__000001.jsonl")
    assert parsed is not None and parsed.logger == prefix


def _files(log, n, log_dir):
    for i in range(n):
        log.info("{} {}", log.name, i)
        log.close()
    maintenance.drain(10)


@pytest.mark.parametrize(("one", "two"), [("a b", "a/b"), ("日本", "中国"), ("a", "a_b")])
def test_retention_of_one_logger_never_touches_another(make_logger, log_dir, one, two):
    """retention=1 on one logger keeps every file of a logger whose name looks alike."""
    other = make_logger(one)
    _files(other, 3, log_dir)
    mine = make_logger(two, retention=1)
    _files(mine, 3, log_dir)
    assert len(spool_records(log_dir, logger=one)) == 3
    assert [r["msg"] for r in spool_records(log_dir, logger=two)] == [f"{two} 2"]


def test_list_spool_matches_the_logger_exactly(make_logger, log_dir):
    """list_spool(logger=...) returns that logger's files only, never a prefix match."""
    for name in ("a", "a_b", "a b", "a.b"):
        make_logger(name).info(name)
    for name in ("a", "a_b", "a b", "a.b"):
        recs = spool_records(log_dir, logger=name)
        assert [r["logger"] for r in recs] == [name]
    for name in ("a", "a_b", "a b", "a.b"):
        registry.forget(name)


def _one_sealed_file(make_logger, log_dir):
    log = make_logger()
    log.info("real")
    log.close()
    ((path, _),) = list_spool(log_dir)
    return path


def test_listing_never_returns_symlinks(make_logger, log_dir, tmp_path):
    """Symlinks with spool or foreign names (to /etc or to a real spool file) are never listed."""
    real = _one_sealed_file(make_logger, log_dir)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    stamp = "20250101T000000000000Z"
    os.symlink(outside, os.path.join(log_dir, f"x__{stamp}__r__1__000001.sealed.jsonl"))
    os.symlink(real, os.path.join(log_dir, f"y__{stamp}__r__2__000001.sealed.jsonl"))
    os.symlink(outside, os.path.join(log_dir, "dropped.txt"))
    assert [p for p, _ in list_spool(log_dir)] == [real]
    assert foreign_files(log_dir) == []
    assert [r["msg"] for r in spool_records(log_dir)] == ["real"]


def test_listing_skips_directories_and_fifos_with_spool_names(make_logger, log_dir):
    """A directory or a FIFO with a spool-like name is not a spool file (reading it would hang)."""
    real = _one_sealed_file(make_logger, log_dir)
    os.mkdir(os.path.join(log_dir, "d__20250101T000000000000Z__r__1__000001.sealed.jsonl"))
    os.mkfifo(os.path.join(log_dir, "f__20250101T000000000000Z__r__1__000002.sealed.jsonl"))
    os.mkfifo(os.path.join(log_dir, "fifo.txt"))
    assert [p for p, _ in list_spool(log_dir)] == [real]
    assert foreign_files(log_dir) == []


def test_files_being_created_are_not_listed(log_dir):
    """A spool file still being created (under _laketrace/tmp) is neither spool nor foreign."""
    tmp = os.path.join(log_dir, "_laketrace", "tmp")
    os.makedirs(tmp)
    open(os.path.join(tmp, ".a__20250101T000000000000Z__r__1__000001.jsonl.creating.tmp"), "w")
    assert list_spool(log_dir) == [] and foreign_files(log_dir) == []


def test_listing_a_missing_directory_is_empty(tmp_path):
    """A log_dir that does not exist (yet, or any more) lists nothing instead of raising."""
    assert list_spool(str(tmp_path / "gone")) == []
    assert foreign_files(str(tmp_path / "gone")) == []
