"""Sizes and durations: people's spellings and Spark's byte strings parse in one place."""

from __future__ import annotations

import pytest

from laketrace._units import parse_duration, parse_size, parse_spark_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1g", 1 << 30),
        ("512m", 512 << 20),
        ("4096", 4096),
        ("0", 0),
        ("2k", 2048),
        ("1gb", 1 << 30),
        ("lots", None),
    ],
)
def test_spark_sizes_are_binary_like_spark(text, expected):
    """Spark byte strings use binary units and plain numbers are bytes (byteStringAsBytes)."""
    assert parse_spark_size(text) == expected


def test_people_sizes_and_durations():
    """Config sizes are decimal unless spelled KiB/MiB; durations take unit words."""
    assert parse_size("500 MB") == 500_000_000
    assert parse_size("1 GiB") == 1 << 30
    assert parse_duration("2 h") == 7200.0
    assert parse_size("lots") is None and parse_duration("soon") is None
