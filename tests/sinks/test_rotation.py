"""Rotation: size, time of day, interval, callables and lists, with an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laketrace._units import parse_duration, parse_size
from laketrace.sinks.rotation import parse_rotation
from laketrace.spool.names import list_spool

from ..conftest import spool_records

T0 = 1_764_336_000.0  # 2025-11-28T13:20:00Z, a Friday


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("500 MB", 500_000_000),
        ("10 KB", 10_000),
        ("1 GiB", 1 << 30),
        ("10kb", 10_000),
        ("100 bytes", 100),
        (2048, 2048),
    ],
)
def test_size_forms(text, size):
    """Sizes parse from decimal and binary units and ints."""
    assert parse_rotation(text).size == size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00", "2025-11-29T00:00:00"),
        ("daily", "2025-11-29T00:00:00"),
        ("14:30", "2025-11-28T14:30:00"),
        ("hourly", "2025-11-28T14:00:00"),
        ("weekly", "2025-12-01T00:00:00"),
        ("monthly", "2025-12-01T00:00:00"),
        ("monday at 12:00", "2025-12-01T12:00:00"),
        ("friday at 12:00", "2025-12-05T12:00:00"),
        ("friday at 14:00", "2025-11-28T14:00:00"),
        ("1 h", "2025-11-28T14:20:00"),
        ("30 s", "2025-11-28T13:20:30"),
        (dt.timedelta(minutes=5), "2025-11-28T13:25:00"),
        (dt.time(6, 15), "2025-11-29T06:15:00"),
    ],
)
def test_time_forms_next_boundary(text, expected):
    """Time-of-day and interval forms compute the next rotation from the open time (UTC)."""
    nxt = parse_rotation(text).next_at(T0)
    assert _utc(nxt).strftime("%Y-%m-%dT%H:%M:%S") == expected


def test_list_rotates_when_any_fires():
    """A list combines forms: smallest size, earliest time."""
    rot = parse_rotation(["10 MB", "1 KB", "daily", "1 h"])
    assert rot.size == 1000
    assert _utc(rot.next_at(T0)).hour == 14


@given(st.integers(min_value=1, max_value=10**12))
def test_property_int_sizes_round_trip(n):
    """Property: '<n> B' parses to n and n KB to n*1000."""
    assert parse_size(f"{n} B") == n
    assert parse_size(f"{n} KB") == n * 1000


@given(st.floats(min_value=0.001, max_value=1e6, allow_nan=False))
def test_property_durations(seconds):
    """Property: '<x> s' and '<x> min' parse to x and 60x seconds."""
    assert parse_duration(f"{seconds:f} s") == pytest.approx(float(f"{seconds:f}"))
    assert parse_duration(f"{seconds:f} min") == pytest.approx(float(f"{seconds:f}") * 60)


def test_size_rotation_keeps_lines_whole(make_logger, log_dir):
    """Size rotation starts a new file before a line would exceed the limit."""
    log = make_logger(rotation="2 KB")
    for i in range(100):
        log.info("record {}", i, pad="x" * 40)
    log.close()
    files = list_spool(log_dir)
    assert len(files) > 5
    import os

    for path, _ in files:
        data = open(path, "rb").read()
        assert os.path.getsize(path) <= 2000 and data.endswith(b"\n")
    assert [r["msg"] for r in spool_records(log_dir)] == [f"record {i}" for i in range(100)]


def test_time_rotation_with_injected_clock(make_logger, log_dir, clock):
    """Interval rotation follows the injected clock, not wall time or file ctime."""
    log = make_logger(clock=clock, rotation="1 h")
    log.info("a")
    clock.advance(1800)
    log.info("b")  # same file
    clock.advance(1800)
    log.info("c")  # 1 h after open: new file
    clock.advance(3599)
    log.info("d")  # same file as c
    log.close()
    groups = [[r["msg"] for r in spool_records_of(p)] for p, _ in list_spool(log_dir)]
    assert groups == [["a", "b"], ["c", "d"]]


def test_daily_rotation_at_midnight(make_logger, log_dir, clock):
    """'00:00' rotates at the first record after midnight UTC."""
    clock.now = T0  # 13:20
    log = make_logger(clock=clock, rotation="00:00")
    log.info("friday")
    clock.now = T0 + 10 * 3600 + 41 * 60  # 00:01 next day
    log.info("saturday")
    log.close()
    assert len(list_spool(log_dir)) == 2


def test_callable_rotation(make_logger, log_dir):
    """A callable (record, file_info) -> bool decides rotation; it sees the file's state."""
    seen = []

    def every_three(record, info):
        seen.append(info.records)
        return info.records >= 3

    log = make_logger(rotation=every_three)
    for i in range(7):
        log.info("r{}", i)
    log.close()
    sizes = [len(spool_records_of(p)) for p, _ in list_spool(log_dir)]
    assert sizes == [3, 3, 1]


def spool_records_of(path):
    from laketrace.spool.read import read_records

    return list(read_records(path))


@pytest.mark.parametrize(
    "text", ["10 M", "10 m", "500 MBs", "500", "10 k", "1 g", "-1 s", "1e3 MB", "nan s", "5 mo"]
)
def test_ambiguous_or_unitless_text_is_neither_size_nor_duration(text):
    """A bare number, a bare M/k/g, a plural abbreviation or a sign is not a size or duration."""
    assert parse_size(text) is None
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250 ms", 0.25),
        ("1 H", 3600),
        ("5 mins", 300),
        ("2 hrs", 7200),
        ("3 days", 3 * 86400),
        ("1 week", 604800),
        ("1 w", 604800),
        ("2 months", 60 * 86400),
    ],
)
def test_duration_unit_words(text, seconds):
    """Durations take unit words (plural allowed) and the single letters s, h, d and w."""
    assert parse_duration(text) == pytest.approx(seconds)


def test_size_and_duration_units_never_overlap():
    """No unit is both a size and a duration, so a value can never be read as the other."""
    from laketrace._units import DURATION_UNITS, SIZE_UNITS

    assert not set(SIZE_UNITS) & set(DURATION_UNITS)
    assert parse_size("100 bytes") == 100 and parse_size("1 TiB") == 1 << 40


def test_spark_side_callers_keep_their_forms():
    """The listener's flush_interval/flush_bytes and for_executors sizes still parse."""
    from laketrace._units import parse_spark_size
    from spark_listener._install import _interval

    assert _interval("5 min") == 300 and _interval(30) == 30
    assert parse_size("64 MB") == 64_000_000 and parse_size("256 KB") == 256_000
    assert parse_spark_size("1g") == 1 << 30 and parse_spark_size("512m") == 512 << 20
    with pytest.raises(ValueError, match="flush_interval"):
        _interval("10 M")
