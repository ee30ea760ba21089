"""Reading a table's history backwards: one rule for every writer (`commits.read_back`)."""

from __future__ import annotations

from laketrace.flush.commits import Commit, read_back


def _table(n: int, *, first_ms: int = 1_000) -> list[Commit]:
    """A history of versions 0..n-1, one second apart, newest first."""
    return [
        Commit(version=v, timestamp_ms=first_ms + 1_000 * v, operation="WRITE", meta=None)
        for v in reversed(range(n))
    ]


def _reader(history: list[Commit], asked: list[int]):
    def commits(limit: int) -> list[Commit]:
        asked.append(limit)
        return history[:limit]

    return commits


def test_a_short_table_is_read_whole_in_one_page():
    """A table with fewer commits than a page is read once and known to be complete."""
    asked: list[int] = []
    hist = read_back(_reader(_table(10), asked), since_ms=0)
    assert asked == [64] and len(hist.commits) == 10 and hist.complete


def test_reading_stops_at_the_first_commit_older_than_since():
    """Pages grow until a commit older than ``since_ms`` is in view, then stop."""
    asked: list[int] = []
    history = _table(1_000)
    hist = read_back(_reader(history, asked), since_ms=history[100].timestamp_ms)
    assert asked == [64, 256] and hist.complete and len(hist.commits) == 256


def test_a_long_table_without_version_zero_in_view_is_not_complete():
    """A table whose history was cleaned (no version 0, all newer than since) is incomplete."""
    history = _table(30)[:20]  # versions 29..10: the older log entries were cleaned
    hist = read_back(_reader(history, []), since_ms=0)
    assert not hist.complete and len(hist.commits) == 20
